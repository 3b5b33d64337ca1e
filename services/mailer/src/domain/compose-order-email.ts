import type { OrderConfirmedEvent } from '@order-mail/shared/contract';
import { buildOrderConfirmationEmail, type OrderEmail, type OrderEmailSettings } from './order-email';
import type { RenderedEmail, TemplateRenderer } from './ports';

/**
 * What an order's email is composed with: made once from config (`service.ts`,
 * `composeDepsFromConfig`) and given to the worker, `POST /preview` and `npm run preview` alike,
 * so a preview is the email that would be sent.
 */
export interface ComposeOrderEmailDeps {
  /** The compiled templates (`compileTemplates`). */
  templates: TemplateRenderer;
  /** The shop, the catalogues, the Message-ID domain, Reply-To (`buildOrderConfirmationEmail`'s settings). */
  settings: OrderEmailSettings;
}

/** An order's confirmation email, built and rendered: what the SMTP server would receive. */
export type ComposedOrderEmail = OrderEmail & RenderedEmail;

/**
 * Builds and renders the confirmation email of an event: `buildOrderConfirmationEmail`, then the
 * template it names filled with its model, the same two steps the worker takes around its claim
 * (`mail-worker.ts`, `send-steps.ts` `renderEmail`). Pure; throws what they throw (an AppError
 * TEMPLATE_NOT_FOUND or RENDER_FAILED from the renderer).
 */
export function composeOrderEmail(event: OrderConfirmedEvent, deps: ComposeOrderEmailDeps): ComposedOrderEmail {
  const email = buildOrderConfirmationEmail(event, deps.settings);
  return { ...email, ...deps.templates.render(email.template, email.model) };
}
