import {
  isWellFormedUtf8,
  orderConfirmedEventSchema,
  toFieldIssues,
  type OrderConfirmedEvent,
} from '@order-mail/shared/contract';

/** A message body read as an order-confirmed event, or why it is not one (one line, for the dead letter). */
export type ParsedMessage = { ok: true; event: OrderConfirmedEvent } | { ok: false; message: string };

/**
 * Reads a message body as an order-confirmed event (the shared contract's schema). Never throws:
 * a body that is not UTF-8, not JSON or not an event comes back as `{ ok: false, message }`,
 * the message naming every offending field (`order.items.0.name: …`).
 */
export function parseOrderConfirmedMessage(content: Buffer): ParsedMessage {
  // Decoding leniently would turn each invalid sequence into U+FFFD and mail that; a publisher
  // that sent such bytes must be fixed, so the event is dead-lettered as it is (RFC 3629).
  if (!isWellFormedUtf8(content)) return { ok: false, message: 'Message body is not valid UTF-8' };
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return { ok: false, message: `Message body is not JSON: ${(err as Error).message}` };
  }
  const result = orderConfirmedEventSchema.safeParse(json);
  if (result.success) return { ok: true, event: result.data };
  const summary = toFieldIssues(result.error)
    .map((d) => `${d.path || '(root)'}: ${d.message}`)
    .join('; ');
  return { ok: false, message: `Message does not match the event schema: ${summary}` };
}
