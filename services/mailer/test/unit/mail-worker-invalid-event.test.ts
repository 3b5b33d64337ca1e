import { EVENT_SCHEMA_VERSION, ORDER_CONFIRMED_EVENT_TYPE } from '@order-mail/shared/contract';
import { invalidEventOutcome } from '../../src/domain/delivery-outcome';
import { idsFromBody } from '../../src/domain/message-ids';
import { historyFromHeaders } from '../../src/entry-points/queue/copy-headers';
import { parseOrderConfirmedMessage } from '../../src/entry-points/queue/parse-event';
import { sampleOrder } from '@test/helpers/orders';

/**
 * What the queue entry point decides for a body before any dependency is touched: the worker
 * receives only parsed events, so an invalid one is dead-lettered from the parse result alone.
 */
function outcomeFor(content: Buffer) {
  const parsed = parseOrderConfirmedMessage(content);
  if (parsed.ok) return { action: 'process' as const };
  return invalidEventOutcome(idsFromBody(content), parsed.message, historyFromHeaders(undefined));
}

function eventJson(overrides: Record<string, unknown> = {}, order: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schemaVersion: EVENT_SCHEMA_VERSION,
    type: ORDER_CONFIRMED_EVENT_TYPE,
    eventId: '3f6c1b2a-9d4e-4c7a-8b1f-2e5d6a7c8b9d',
    acceptedAt: '2024-05-01T12:00:00.000Z',
    correlationId: 'corr-1',
    order: { ...sampleOrder(), ...order },
    ...overrides,
  });
}

describe('queue entry point: events it must not send (dead-lettered as invalid_event at once)', () => {
  it.each([
    [
      'a body in Latin-1 (é as the lone byte E9)',
      Buffer.from(eventJson({}, { customer: { email: 'a@b.example', name: 'Zoë' } }), 'latin1'),
      'not valid UTF-8',
    ],
    [
      'a body with a stray continuation byte',
      Buffer.concat([Buffer.from(eventJson()), Buffer.from([0x80])]),
      'not valid UTF-8',
    ],
    ['an encoded surrogate (CESU-8)', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'not valid UTF-8'],
    [
      'a NUL in correlationId (PostgreSQL cannot store it)',
      Buffer.from(eventJson({ correlationId: 'corr\u0000' })),
      'correlationId',
    ],
    [
      'CR LF in correlationId (an email header)',
      Buffer.from(eventJson({ correlationId: 'c\r\nBcc: x@evil.example' })),
      'correlationId',
    ],
    [
      'LF in the customer name',
      Buffer.from(eventJson({}, { customer: { email: 'a@b.example', name: 'A\nB' } })),
      'order.customer.name',
    ],
    [
      'U+202E in an item name',
      Buffer.from(eventJson({}, { items: [{ sku: 'S', name: 'x\u202Eexe', quantity: 1, unitPrice: 1 }] })),
      'order.items.0.name',
    ],
    [
      'an SMTPUTF8 address',
      Buffer.from(eventJson({}, { customer: { email: 'üser@example.com', name: 'A' } })),
      'SMTPUTF8',
    ],
    ['not JSON', Buffer.from('{not json'), 'not JSON'],
  ])(
    'when the message carries %s, then it is dead-lettered as invalid_event without touching anything',
    (_label, content, reason) => {
      // Act
      const outcome = outcomeFor(content);

      // Assert
      expect(outcome).toMatchObject({
        action: 'dead-letter',
        reason: 'invalid_event',
        counts: { ledgerAttempts: 0 },
        failure: { failureClass: 'invalid', message: expect.stringContaining(reason) },
      });
    },
  );
});
