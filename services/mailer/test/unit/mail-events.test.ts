import { mailEventSchema } from '@order-mail/shared/contract';
import { toMailEvent, type OutboxEntry } from '../../src/domain/mail-events';

function entry(overrides: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    id: '41',
    eventId: '3f0c2a9e-5b7d-4c1e-9a8f-2d6b1e0c7a55',
    type: 'email.sent',
    orderId: 'A-1001',
    orderEventId: '9b1e8c3d-1a2b-4c5d-8e9f-0a1b2c3d4e5f',
    messageId: '<9b1e8c3d@mail.shop.example>',
    recipient: 'ada@example.com',
    status: 'sent',
    attempt: 1,
    smtpCode: 250,
    smtpResponse: '250 2.0.0 OK queued',
    reason: null,
    occurredAt: new Date('2026-12-01T10:00:00.123Z'),
    ...overrides,
  };
}

describe('toMailEvent (an outbox entry as it is published)', () => {
  it('when the entry is a sent email, then the event carries every documented field and matches mailEventSchema', () => {
    // Act
    const event = toMailEvent(entry());

    // Assert
    expect(event).toEqual({
      schemaVersion: 1,
      type: 'email.sent',
      eventId: '3f0c2a9e-5b7d-4c1e-9a8f-2d6b1e0c7a55',
      occurredAt: '2026-12-01T10:00:00.123Z',
      orderId: 'A-1001',
      orderEventId: '9b1e8c3d-1a2b-4c5d-8e9f-0a1b2c3d4e5f',
      messageId: '<9b1e8c3d@mail.shop.example>',
      recipient: 'ada@example.com',
      status: 'sent',
      attempt: 1,
      smtpCode: 250,
      smtpResponse: '250 2.0.0 OK queued',
    });
    expect(mailEventSchema.safeParse(event).success).toBe(true);
  });

  it.each<[string, Partial<OutboxEntry>, Record<string, unknown>]>([
    [
      'a suppressed delivery (no reply, no Message-ID)',
      {
        type: 'email.suppressed',
        status: 'suppressed',
        attempt: 0,
        smtpCode: null,
        smtpResponse: null,
        messageId: null,
        reason: 'suppressed',
      },
      { messageId: null, reason: 'suppressed' },
    ],
    [
      'a dead letter',
      {
        type: 'email.dead_lettered',
        status: 'dead',
        smtpCode: 550,
        smtpResponse: '550 5.1.1 No such user',
        reason: 'smtp_rejected',
      },
      { smtpCode: 550, reason: 'smtp_rejected' },
    ],
    ['an erased recipient', { recipient: null }, { recipient: null }],
  ])(
    'when the entry is %s, then absent values are left out or null as documented and the event matches the schema',
    (_name, overrides, expected) => {
      // Act
      const event = toMailEvent(entry(overrides));

      // Assert
      expect(event).toMatchObject(expected);
      if (overrides.smtpCode === null) expect(event).not.toHaveProperty('smtpCode');
      expect(mailEventSchema.safeParse(event).success).toBe(true);
    },
  );
});
