import type { GetMessage } from '@order-mail/shared/broker';
import {
  describeDeadLetter,
  matchesFilter,
  replayHeaders,
  type DeadLetter,
  type ReplayFilter,
} from '../../src/adapters/broker/dead-letter-store';

const ORDER_ID = 'ord-1001';

/** A fake message as amqplib's `get` hands it over: only content and properties matter here. */
function getMessage(options: {
  body?: unknown;
  content?: Buffer;
  headers?: Record<string, unknown>;
  messageId?: string;
  correlationId?: string;
}): GetMessage {
  const content = options.content ?? Buffer.from(JSON.stringify(options.body ?? {}), 'utf8');
  return {
    content,
    fields: {
      deliveryTag: 1,
      redelivered: false,
      exchange: 'mailer.dead-letter',
      routingKey: 'mailer.order.confirmed',
      messageCount: 0,
    },
    properties: {
      contentType: 'application/json',
      contentEncoding: undefined,
      headers: options.headers,
      deliveryMode: 2,
      priority: undefined,
      correlationId: options.correlationId,
      replyTo: undefined,
      expiration: undefined,
      messageId: options.messageId,
      timestamp: undefined,
      type: undefined,
      userId: undefined,
      appId: undefined,
      clusterId: undefined,
    },
  };
}

const eventBody = (orderId: unknown = ORDER_ID) => ({
  type: 'order.confirmed',
  eventId: 'evt-1',
  correlationId: 'corr-1',
  order: { orderId },
});

/** A dead letter as the mailer writes it after a permanent SMTP rejection. */
const mailerHeaders = {
  'x-dead-letter-reason': 'smtp_rejected',
  'x-smtp-code': 550,
  'x-smtp-response': '550 5.1.1 <nobody@example.com>: Recipient address rejected',
  'x-attempts': 3,
  'x-first-failure-at': '2024-05-01T12:00:00.000Z',
  'x-last-failure-at': '2024-05-01T12:12:30.000Z',
  'x-worker-id': 'mailer-a-42',
  'x-last-error': "Can't send mail - all recipients were rejected",
  'x-last-error-class': 'permanent',
};

function letter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    messageId: 'msg-1',
    orderId: ORDER_ID,
    correlationId: 'corr-1',
    reason: 'smtp_rejected',
    error: null,
    smtpCode: 550,
    smtpResponse: null,
    attempts: 1,
    firstFailureAt: null,
    lastFailureAt: null,
    workerId: null,
    ...overrides,
  };
}

describe('describeDeadLetter', () => {
  it('when the mailer dead-lettered the message, then every failure header is read', () => {
    // Arrange
    const msg = getMessage({ body: eventBody(), headers: mailerHeaders, messageId: 'msg-1', correlationId: 'corr-1' });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described).toEqual({
      messageId: 'msg-1',
      orderId: ORDER_ID,
      correlationId: 'corr-1',
      reason: 'smtp_rejected',
      error: "Can't send mail - all recipients were rejected",
      smtpCode: 550,
      smtpResponse: '550 5.1.1 <nobody@example.com>: Recipient address rejected',
      attempts: 3,
      firstFailureAt: '2024-05-01T12:00:00.000Z',
      lastFailureAt: '2024-05-01T12:12:30.000Z',
      workerId: 'mailer-a-42',
    });
  });

  it('when the broker dead-lettered the message itself, then its death reason is the reason and the rest is empty', () => {
    // Arrange: a crash-looping message, over the work queue's delivery limit.
    const msg = getMessage({
      body: eventBody(),
      headers: { 'x-first-death-reason': 'delivery_limit' },
      messageId: 'msg-2',
    });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described).toEqual({
      messageId: 'msg-2',
      orderId: ORDER_ID,
      correlationId: null,
      reason: 'delivery_limit',
      error: null,
      smtpCode: null,
      smtpResponse: null,
      attempts: 0,
      firstFailureAt: null,
      lastFailureAt: null,
      workerId: null,
    });
  });

  it('when both our reason and a broker death reason are present, then our reason wins', () => {
    // Arrange: the message went through a retry queue (TTL expiry) before the mailer dead-lettered it.
    const msg = getMessage({ body: eventBody(), headers: { ...mailerHeaders, 'x-first-death-reason': 'expired' } });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.reason).toBe('smtp_rejected');
  });

  // RabbitMQ sets x-first-death-reason once and never changes it; the newest x-death entry is the latest reason.
  it('when the broker dead-letters a message that was retried before, then the latest death reason is used', () => {
    // Arrange: headers as RabbitMQ 3.13 leaves them after expired-from-retry-queue, then delivery_limit.
    const msg = getMessage({
      body: eventBody(),
      headers: {
        'x-attempts': 1,
        'x-first-death-reason': 'expired',
        'x-first-death-queue': 'mailer.order.confirmed.retry.30s',
        'x-last-death-reason': 'delivery_limit',
        'x-last-death-queue': 'mailer.order.confirmed',
        'x-death': [
          { count: 1, reason: 'delivery_limit', queue: 'mailer.order.confirmed', exchange: '', 'routing-keys': [] },
          {
            count: 1,
            reason: 'expired',
            queue: 'mailer.order.confirmed.retry.30s',
            exchange: '',
            'routing-keys': [],
          },
        ],
      },
    });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.reason).toBe('delivery_limit');
  });

  it('when there are no headers at all, then the reason is unknown and the counts are zero', () => {
    // Arrange
    const msg = getMessage({ body: eventBody(), headers: undefined });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described).toMatchObject({ reason: 'unknown', attempts: 0, smtpCode: null, error: null });
  });

  it('when the body is not JSON, then the order id is null and the headers are still read', () => {
    // Arrange
    const msg = getMessage({ content: Buffer.from('<<not json>>', 'utf8'), headers: mailerHeaders });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.orderId).toBeNull();
    expect(described.reason).toBe('smtp_rejected');
    expect(described.smtpCode).toBe(550);
  });

  it.each([
    ['has no order', { type: 'order.confirmed' }],
    ['has a numeric order id', eventBody(1001)],
    ['is a JSON string', 'just a string'],
    ['is JSON null', null],
  ])('when the JSON body %s, then the order id is null', (_label, body) => {
    // Arrange
    const msg = getMessage({ content: Buffer.from(JSON.stringify(body), 'utf8'), headers: mailerHeaders });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.orderId).toBeNull();
  });

  it('when header values arrive as Buffers, then they are read as UTF-8 text', () => {
    // Arrange: a byte-array field table value ('x') is decoded by amqplib as a Buffer.
    const asBuffer = (s: string) => Buffer.from(s, 'utf8');
    const msg = getMessage({
      body: eventBody(),
      headers: {
        'x-dead-letter-reason': asBuffer('retries_exhausted'),
        'x-smtp-response': asBuffer('451 4.3.0 Temporary lookup failure – réessayez'),
        'x-attempts': asBuffer('5'),
        'x-first-failure-at': asBuffer('2024-05-01T12:00:00.000Z'),
        'x-last-failure-at': asBuffer('2024-05-01T19:00:00.000Z'),
        'x-worker-id': asBuffer('mailer-b-7'),
        'x-last-error': asBuffer('x'.repeat(1000)),
      },
    });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described).toMatchObject({
      reason: 'retries_exhausted',
      smtpResponse: '451 4.3.0 Temporary lookup failure – réessayez',
      attempts: 5,
      firstFailureAt: '2024-05-01T12:00:00.000Z',
      lastFailureAt: '2024-05-01T19:00:00.000Z',
      workerId: 'mailer-b-7',
      error: 'x'.repeat(1000),
    });
  });

  it('when the broker reason arrives as a Buffer, then it is read as text', () => {
    // Arrange
    const msg = getMessage({ body: eventBody(), headers: { 'x-first-death-reason': Buffer.from('delivery_limit') } });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.reason).toBe('delivery_limit');
  });

  it('when the attempt count is not a number, then it reads as zero', () => {
    // Arrange
    const msg = getMessage({ body: eventBody(), headers: { ...mailerHeaders, 'x-attempts': 'many' } });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.attempts).toBe(0);
  });
});

describe('matchesFilter', () => {
  const rejected550 = letter({ reason: 'smtp_rejected', smtpCode: 550 });
  const rejected554 = letter({ reason: 'smtp_rejected', smtpCode: 554 });
  const exhausted451 = letter({ reason: 'retries_exhausted', smtpCode: 451 });
  const deliveryLimit = letter({ reason: 'delivery_limit', smtpCode: null });

  it.each<[string, ReplayFilter, DeadLetter, boolean]>([
    ['all: true matches a rejection', { all: true }, rejected550, true],
    ['all: true matches a broker dead letter without a code', { all: true }, deliveryLimit, true],
    ['a reason matches the same reason', { reason: 'smtp_rejected' }, rejected554, true],
    ['a reason does not match another reason', { reason: 'smtp_rejected' }, exhausted451, false],
    ['a reason matches a broker reason', { reason: 'delivery_limit' }, deliveryLimit, true],
    ['an smtpCode matches the same code', { smtpCode: 451 }, exhausted451, true],
    ['an smtpCode does not match another code', { smtpCode: 550 }, rejected554, false],
    ['an smtpCode does not match a letter without a code', { smtpCode: 550 }, deliveryLimit, false],
    ['reason and smtpCode match when both match', { reason: 'smtp_rejected', smtpCode: 550 }, rejected550, true],
    [
      'reason and smtpCode fail when only the reason matches',
      { reason: 'smtp_rejected', smtpCode: 550 },
      rejected554,
      false,
    ],
    [
      'reason and smtpCode fail when only the code matches',
      { reason: 'retries_exhausted', smtpCode: 550 },
      rejected550,
      false,
    ],
    ['an empty filter matches nothing', {}, rejected550, false],
    ['an empty filter does not match a broker dead letter', {}, deliveryLimit, false],
    ['all: false alone matches nothing', { all: false }, rejected550, false],
  ])('when %s, then the result is %s', (_name, filter, deadLetter, expected) => {
    // Act
    const result = matchesFilter(deadLetter, filter);

    // Assert
    expect(result).toBe(expected);
  });
});

describe('replayHeaders', () => {
  const now = new Date('2024-05-02T08:00:00.000Z');

  it.each([
    ['x-send-failures', 2],
    ['x-attempts', 3],
    ['x-internal-errors', 1],
    ['x-last-error', 'try later'],
    ['x-last-error-class', 'transient'],
    ['x-first-failure-at', '2024-05-01T12:00:00.000Z'],
    ['x-last-failure-at', '2024-05-01T12:12:30.000Z'],
    ['x-smtp-code', 451],
    ['x-smtp-response', '451 4.3.0 try later'],
    ['x-worker-id', 'mailer-a-42'],
    ['x-hold-reason', 'unknown_outcome'],
    ['x-dead-letter-reason', 'retries_exhausted'],
    ['x-death', [{ count: 1, reason: 'delivery_limit', queue: 'mailer.order.confirmed' }]],
    ['x-first-death-reason', 'delivery_limit'],
  ])('when the dead letter carries %s, then the replayed copy does not', (name, value) => {
    // Act
    const headers = replayHeaders({ [name]: value, 'x-custom': 'kept' }, now);

    // Assert
    expect(headers).not.toHaveProperty([name]);
    expect(headers['x-custom']).toBe('kept');
  });

  it('when a dead letter is replayed again, then its copy counts one more replay and says when', () => {
    // Act
    const headers = replayHeaders({ 'x-replay-count': 1, 'x-replayed-at': '2024-05-01T00:00:00.000Z' }, now);

    // Assert
    expect(headers).toEqual({ 'x-replay-count': 2, 'x-replayed-at': '2024-05-02T08:00:00.000Z' });
  });
});
