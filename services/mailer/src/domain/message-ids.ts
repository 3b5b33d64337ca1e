/** Ids a log line about a message carries, so it joins to the message's dead letter and ledger row. */
export interface MessageLogIds {
  orderId?: string;
  eventId?: string;
  correlationId?: string;
}

const MAX_ID_LENGTH = 200;

function idText(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  // An invalid event can carry anything; a log field stays short.
  return value.length > MAX_ID_LENGTH ? `${value.slice(0, MAX_ID_LENGTH)}…` : value;
}

/**
 * The ids of a message body, read leniently: whatever of `order.orderId`, `eventId` and
 * `correlationId` is a non-empty string when the body is JSON, whether or not the event is valid
 * (an invalid event is exactly the one whose log lines must join to its dead letter). Values are
 * cut to 200 characters; a body that is not JSON (or not an object) gives `{}`. Never throws.
 */
export function idsFromBody(content: Buffer): MessageLogIds {
  let body: unknown;
  try {
    body = JSON.parse(content.toString('utf8'));
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null) return {};
  const { order, eventId, correlationId } = body as { order?: unknown; eventId?: unknown; correlationId?: unknown };
  const orderId = typeof order === 'object' && order !== null ? (order as { orderId?: unknown }).orderId : undefined;
  const ids: MessageLogIds = {};
  const found = { orderId: idText(orderId), eventId: idText(eventId), correlationId: idText(correlationId) };
  for (const [key, value] of Object.entries(found) as [keyof MessageLogIds, string | undefined][]) {
    if (value !== undefined) ids[key] = value;
  }
  return ids;
}
