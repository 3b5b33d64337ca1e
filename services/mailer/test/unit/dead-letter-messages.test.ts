import type { GetMessage } from '@order-mail/shared/broker';
import {
  describeDeadLetter,
  replayHeaders,
  safeText,
  toNewDeadLetter,
  type DeadLetterMessage,
  type NewDeadLetter,
} from '../../src/adapters/broker/dead-letter-messages';

const ORDER_ID = 'ord-1001';
const RECORDED_AT = new Date('2024-05-03T09:00:00.000Z');

/** A message as amqplib hands it over (only content and properties matter here). */
function message(options: {
  body?: unknown;
  content?: Buffer;
  headers?: Record<string, unknown>;
  messageId?: string;
  correlationId?: string;
  timestamp?: number;
}): DeadLetterMessage {
  const content = options.content ?? Buffer.from(JSON.stringify(options.body ?? {}), 'utf8');
  const properties: GetMessage['properties'] = {
    contentType: 'application/json',
    contentEncoding: undefined,
    headers: options.headers,
    deliveryMode: 2,
    priority: undefined,
    correlationId: options.correlationId,
    replyTo: undefined,
    expiration: undefined,
    messageId: options.messageId,
    timestamp: options.timestamp,
    type: undefined,
    userId: undefined,
    appId: undefined,
    clusterId: undefined,
  };
  return { content, properties };
}

const eventBody = (orderId: unknown = ORDER_ID) => ({
  type: 'order.confirmed',
  eventId: 'evt-1',
  correlationId: 'corr-body',
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

/** `x-death` and its companions as amqplib decodes them from RabbitMQ (times as typed timestamps, in seconds). */
const brokerDeathHeaders = {
  'x-delivery-count': 0,
  'x-first-death-exchange': '',
  'x-first-death-queue': 'mailer.order.confirmed.retry.30s',
  'x-first-death-reason': 'expired',
  'x-death': [
    {
      count: 1,
      reason: 'delivery_limit',
      queue: 'mailer.order.confirmed',
      time: { '!': 'timestamp', value: 1714567890 },
      exchange: '',
      'routing-keys': ['mailer.order.confirmed'],
    },
    {
      count: 1,
      reason: 'expired',
      queue: 'mailer.order.confirmed.retry.30s',
      time: { '!': 'timestamp', value: 1714567000 },
      exchange: '',
      'routing-keys': ['mailer.order.confirmed.retry.30s'],
    },
  ],
};

const noFailure = {
  error: null,
  smtpCode: null,
  smtpResponse: null,
  attempts: 0,
  firstFailureAt: null,
  lastFailureAt: null,
  workerId: null,
};

describe('toNewDeadLetter', () => {
  it.each<[string, DeadLetterMessage, Partial<NewDeadLetter>]>([
    [
      'the mailer dead-lettered it',
      message({ body: eventBody(), headers: mailerHeaders, messageId: 'msg-1', correlationId: 'corr-prop' }),
      {
        messageId: 'msg-1',
        eventId: 'evt-1',
        orderId: ORDER_ID,
        correlationId: 'corr-body',
        reason: 'smtp_rejected',
        error: "Can't send mail - all recipients were rejected",
        smtpCode: 550,
        smtpResponse: '550 5.1.1 <nobody@example.com>: Recipient address rejected',
        attempts: 3,
        firstFailureAt: '2024-05-01T12:00:00.000Z',
        lastFailureAt: '2024-05-01T12:12:30.000Z',
        workerId: 'mailer-a-42',
        deadLetteredAt: new Date('2024-05-01T12:12:30.000Z'),
        headers: mailerHeaders,
      },
    ],
    [
      'the broker dead-lettered it over the delivery limit',
      message({ body: eventBody(), headers: brokerDeathHeaders, messageId: 'msg-2' }),
      {
        messageId: 'msg-2',
        orderId: ORDER_ID,
        reason: 'delivery_limit',
        ...noFailure,
        deadLetteredAt: new Date(1714567890 * 1000),
        headers: brokerDeathHeaders,
      },
    ],
    [
      'its body is not JSON',
      message({ content: Buffer.from('<<not json>>'), headers: { 'x-dead-letter-reason': 'invalid_event' } }),
      {
        messageId: null,
        eventId: null,
        orderId: null,
        correlationId: null,
        reason: 'invalid_event',
        ...noFailure,
        body: Buffer.from('<<not json>>'),
        deadLetteredAt: RECORDED_AT,
      },
    ],
    [
      'it has no headers at all',
      message({ body: eventBody(), headers: undefined }),
      { reason: 'unknown', ...noFailure, headers: {}, deadLetteredAt: RECORDED_AT },
    ],
    [
      'its strings hold NUL characters and lone surrogates',
      message({
        body: eventBody(),
        headers: {
          'x-dead-letter-reason': 'invalid\u0000_event',
          'x-last-error': 'bad \u0000 byte and \uD800 half',
          'x-nested': [{ 'key\u0000': ['deep\u0000'] }],
        },
      }),
      {
        reason: 'invalid\uFFFD_event',
        error: 'bad \uFFFD byte and \uFFFD half',
        headers: {
          'x-dead-letter-reason': 'invalid\uFFFD_event',
          'x-last-error': 'bad \uFFFD byte and \uFFFD half',
          'x-nested': [{ 'key\uFFFD': ['deep\uFFFD'] }],
        },
      },
    ],
    [
      'its headers arrive as Buffers (and other types JSON lacks)',
      message({
        body: eventBody(),
        headers: {
          'x-dead-letter-reason': Buffer.from('retries_exhausted'),
          'x-smtp-response': Buffer.from('451 4.3.0 réessayez\u0000'),
          'x-attempts': Buffer.from('5'),
          'x-last-failure-at': Buffer.from('2024-05-01T19:00:00.000Z'),
          'x-when': new Date('2024-05-01T19:00:01.000Z'),
          'x-big': 12345678901234567890n,
          'x-nan': Number.NaN,
        },
      }),
      {
        reason: 'retries_exhausted',
        smtpResponse: '451 4.3.0 réessayez\uFFFD',
        attempts: 5,
        lastFailureAt: '2024-05-01T19:00:00.000Z',
        deadLetteredAt: new Date('2024-05-01T19:00:00.000Z'),
        headers: {
          'x-dead-letter-reason': 'retries_exhausted',
          'x-smtp-response': '451 4.3.0 réessayez\uFFFD',
          'x-attempts': '5',
          'x-last-failure-at': '2024-05-01T19:00:00.000Z',
          'x-when': '2024-05-01T19:00:01.000Z',
          'x-big': '12345678901234567890',
          'x-nan': 'NaN',
        },
      },
    ],
    [
      'its numbers do not fit the integer columns',
      message({ body: eventBody(), headers: { 'x-smtp-code': 550.5, 'x-attempts': 1e12 } }),
      { smtpCode: null, attempts: 2 ** 31 - 1 },
    ],
    [
      'its x-last-failure-at is not a date and its x-death time is in plain seconds',
      message({
        body: eventBody(),
        headers: { 'x-last-failure-at': 'yesterday', 'x-death': [{ reason: 'rejected', time: 1714567890 }] },
      }),
      { reason: 'rejected', lastFailureAt: 'yesterday', deadLetteredAt: new Date(1714567890 * 1000) },
    ],
    [
      'its body has ids of the wrong type',
      message({ body: { eventId: 7, order: { orderId: 1001 }, correlationId: null } }),
      { eventId: null, orderId: null, correlationId: null },
    ],
  ])('when %s, then the row says so', (_label, msg, expected) => {
    // Act
    const letter = toNewDeadLetter(msg, RECORDED_AT);

    // Assert
    expect(letter).toMatchObject(expected);
    expect(letter.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when a message is converted, then its properties are kept without headers or undefined ones', () => {
    // Arrange
    const msg = message({ body: eventBody(), headers: mailerHeaders, messageId: 'msg-1', timestamp: 1714567890 });

    // Act
    const letter = toNewDeadLetter(msg, RECORDED_AT);

    // Assert
    expect(letter.properties).toEqual({
      contentType: 'application/json',
      deliveryMode: 2,
      messageId: 'msg-1',
      timestamp: 1714567890,
    });
    expect(JSON.parse(JSON.stringify(letter.headers))).toEqual(letter.headers);
  });

  it('when the same message is redelivered with another x-delivery-count, then its fingerprint is the same', () => {
    // Arrange: RabbitMQ counts deliveries in the header; the message is otherwise the same.
    const first = message({ body: eventBody(), headers: { ...brokerDeathHeaders, 'x-delivery-count': 0 } });
    const again = message({ body: eventBody(), headers: { ...brokerDeathHeaders, 'x-delivery-count': 3 } });

    // Act
    const fingerprints = [toNewDeadLetter(first), toNewDeadLetter(again)].map((l) => l.fingerprint);

    // Assert
    expect(fingerprints[0]).toBe(fingerprints[1]);
  });

  it('when header order differs, then the fingerprint is the same', () => {
    // Arrange
    const reversed = Object.fromEntries(Object.entries(mailerHeaders).reverse());

    // Act
    const a = toNewDeadLetter(message({ body: eventBody(), headers: mailerHeaders }));
    const b = toNewDeadLetter(message({ body: eventBody(), headers: reversed }));

    // Assert
    expect(a.fingerprint).toBe(b.fingerprint);
  });

  it.each<[string, DeadLetterMessage]>([
    [
      'another x-last-failure-at',
      message({ body: eventBody(), headers: { ...mailerHeaders, 'x-last-failure-at': '2024-05-01T12:12:31.000Z' } }),
    ],
    ['another body', message({ body: eventBody('ord-1002'), headers: mailerHeaders })],
    ['another message id', message({ body: eventBody(), headers: mailerHeaders, messageId: 'msg-2' })],
    [
      'a Buffer where the other has a string',
      message({ body: eventBody(), headers: { ...mailerHeaders, 'x-worker-id': Buffer.from('mailer-a-42') } }),
    ],
  ])('when a message differs by %s, then its fingerprint differs', (_label, other) => {
    // Arrange
    const original = message({ body: eventBody(), headers: mailerHeaders });

    // Act
    const fingerprints = [toNewDeadLetter(original), toNewDeadLetter(other)].map((l) => l.fingerprint);

    // Assert
    expect(fingerprints[0]).not.toBe(fingerprints[1]);
  });
});

describe('describeDeadLetter', () => {
  it('when both our reason and a broker death reason are present, then our reason wins', () => {
    // Arrange: the message went through a retry queue (TTL expiry) before the mailer dead-lettered it.
    const msg = message({ body: eventBody(), headers: { ...mailerHeaders, ...brokerDeathHeaders } });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.reason).toBe('smtp_rejected');
  });

  it('when only x-first-death-reason is there, then it is the reason', () => {
    // Arrange
    const msg = message({ body: eventBody(), headers: { 'x-first-death-reason': Buffer.from('maxlen') } });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.reason).toBe('maxlen');
  });

  it('when the attempt count is not a number, then it reads as zero', () => {
    // Arrange
    const msg = message({ body: eventBody(), headers: { ...mailerHeaders, 'x-attempts': 'many' } });

    // Act
    const described = describeDeadLetter(msg);

    // Assert
    expect(described.attempts).toBe(0);
  });
});

describe('safeText', () => {
  it.each([
    ['plain text', 'plain text'],
    ['a\u0000b', 'a\uFFFDb'],
    ['lone high \uD83D', 'lone high \uFFFD'],
    ['lone low \uDE00', 'lone low \uFFFD'],
    ['a pair \uD83D\uDE00 stays', 'a pair \uD83D\uDE00 stays'],
  ])('when the text is %j, then it becomes %j', (input, expected) => {
    // Act
    const safe = safeText(input);

    // Assert
    expect(safe).toBe(expected);
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

  it.each<[string, Record<string, unknown>, { force?: boolean } | undefined, boolean | undefined]>([
    ['without force, on a dead letter without the override', {}, undefined, undefined],
    [
      'with force: false, on a dead letter an earlier forced replay left the override on',
      { 'x-suppression-override': true },
      { force: false },
      undefined,
    ],
    ['without options, on a dead letter with the override', { 'x-suppression-override': true }, undefined, undefined],
    ['with force, on a dead letter without the override', {}, { force: true }, true],
    [
      'with force, on a dead letter with an override that is not true',
      { 'x-suppression-override': 'no' },
      { force: true },
      true,
    ],
  ])('when the copy is made %s, then x-suppression-override is %p', (_case, suppression, options, expected) => {
    // Arrange
    const dead = { 'x-custom': 'kept', 'x-dead-letter-reason': 'smtp_rejected', ...suppression };

    // Act
    const headers = replayHeaders(dead, now, options);

    // Assert
    expect(headers['x-suppression-override']).toBe(expected);
    expect('x-suppression-override' in headers).toBe(expected !== undefined);
    expect(headers).toMatchObject({ 'x-custom': 'kept', 'x-replay-count': 1 });
    expect(headers).not.toHaveProperty(['x-dead-letter-reason']);
  });
});
