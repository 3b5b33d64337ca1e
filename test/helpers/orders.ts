import type { OrderInput } from '@order-mail/shared';

export function sampleOrder(overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId: 'A-1001',
    customer: { email: 'ada@example.com', name: 'Ada Lovelace', locale: 'en' },
    items: [
      { sku: 'SKU-1', name: 'Widget', quantity: 2, unitPrice: 1999 },
      { sku: 'SKU-2', name: 'Gadget', quantity: 1, unitPrice: 500 },
    ],
    currency: 'EUR',
    ...overrides,
  };
}

export function postJson(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
