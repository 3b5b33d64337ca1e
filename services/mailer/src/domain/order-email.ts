import type { OrderConfirmedEvent } from '@order-mail/shared/contract';
import { formatMoney } from './money';

export const ORDER_CONFIRMATION_TEMPLATE = 'order-confirmation';

/** The values a confirmation template is filled with; every string here is raw, templates escape. */
export interface OrderConfirmationModel {
  orderId: string;
  customerName: string;
  items: { sku: string; name: string; quantity: number; unitPrice: string; lineTotal: string }[];
  total: string;
}

export interface OrderEmail {
  template: typeof ORDER_CONFIRMATION_TEMPLATE;
  to: string;
  subject: string;
  /** Stable per event, so a resend of the same event carries the same Message-ID. */
  messageId: string;
  model: OrderConfirmationModel;
}

export function buildOrderConfirmationEmail(event: OrderConfirmedEvent, messageIdDomain: string): OrderEmail {
  const { order } = event;
  const { currency } = order;
  const locale = order.customer.locale;
  const items = order.items.map((item) => ({
    sku: item.sku,
    name: item.name,
    quantity: item.quantity,
    unitPrice: formatMoney(item.unitPrice, currency, locale),
    lineTotal: formatMoney(item.unitPrice * item.quantity, currency, locale),
  }));
  const totalMinor = order.items.reduce((sum, item) => sum + item.unitPrice * item.quantity, 0);
  return {
    template: ORDER_CONFIRMATION_TEMPLATE,
    to: order.customer.email,
    subject: `Your order ${order.orderId} is confirmed`,
    messageId: `<${event.eventId}@${messageIdDomain}>`,
    model: {
      orderId: order.orderId,
      customerName: order.customer.name,
      items,
      total: formatMoney(totalMinor, currency, locale),
    },
  };
}
