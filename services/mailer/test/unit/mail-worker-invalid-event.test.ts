import { EVENT_SCHEMA_VERSION, ORDER_CONFIRMED_EVENT_TYPE, type Logger } from '@order-mail/shared';
import { createMailWorker, type MailWorkerDeps } from '../../src/domain/mail-worker';
import { sampleOrder } from '../../../../test/helpers/orders';

/** Every dependency throws when touched: an invalid event must be decided before any of them is used. */
function untouchable<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_target, prop) => {
      throw new Error(`${name}.${String(prop)} used for an invalid event`);
    },
  });
}

const worker = createMailWorker({
  transport: untouchable('transport'),
  templates: untouchable('templates'),
  ledger: untouchable('ledger'),
  metrics: untouchable('metrics'),
  logger: untouchable<Logger>('logger'),
  schedule: untouchable('schedule'),
  workerId: 'unit',
  mailFrom: 'shop@example.com',
  messageIdDomain: 'example.com',
} satisfies MailWorkerDeps);

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

describe('mail worker: events it must not send (dead-lettered as invalid_event at once)', () => {
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
    async (_label, content, reason) => {
      // Act
      const outcome = await worker.process(content, { failures: 0, replayed: false });

      // Assert
      expect(outcome).toMatchObject({
        action: 'dead-letter',
        reason: 'invalid_event',
        failures: 0,
        failure: { failureClass: 'invalid', message: expect.stringContaining(reason) },
      });
    },
  );
});
