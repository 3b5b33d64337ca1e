import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { mailEventSchema, type MailEvent } from '@order-mail/shared/contract';
import {
  MAX_RETRY_AFTER_MS,
  RETRY_JITTER,
  decideWebhookAttempt,
  parseRetryAfter,
  webhookPayload,
  type WebhookAttemptResult,
  type WebhookDecision,
} from '../../src/domain/webhooks';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** WEBHOOK_RETRY_DELAYS' default (the specification's example schedule): 9 delays, 10 attempts. */
const DEFAULT_DELAYS = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
] as const;
const LAST_ATTEMPT = DEFAULT_DELAYS.length + 1;

/** A random source at the middle of [0, 1): no jitter, the scheduled delay exactly. */
const noJitter = () => 0.5;

const response = (status: number, retryAfterSeconds?: number | null): WebhookAttemptResult => ({
  kind: 'response',
  status,
  retryAfterSeconds,
});
const TIMEOUT: WebhookAttemptResult = { kind: 'timeout' };
const NETWORK: WebhookAttemptResult = { kind: 'network', message: 'connect ECONNREFUSED 203.0.113.7:443' };

describe('decideWebhookAttempt', () => {
  describe('when the receiver answers 2xx', () => {
    it.each([
      [200, 1],
      [201, 1],
      [204, 1],
      [299, 1],
      [200, 5],
      [204, LAST_ATTEMPT],
    ])('when the answer is %i on attempt %i, then the delivery is delivered', (status, attempt) => {
      // Act
      const decision = decideWebhookAttempt(response(status), attempt, DEFAULT_DELAYS, noJitter);

      // Assert
      expect(decision).toEqual({ outcome: 'delivered' });
    });
  });

  describe('when the receiver answers 410 Gone', () => {
    it.each([
      ['the first attempt', 1, undefined],
      ['a middle attempt', 4, undefined],
      ['the last attempt', LAST_ATTEMPT, undefined],
      ['the first attempt, with a Retry-After', 1, 60],
    ])('when it comes on %s, then the delivery fails as gone, never retried', (_when, attempt, retryAfter) => {
      // Act
      const decision = decideWebhookAttempt(response(410, retryAfter), attempt, DEFAULT_DELAYS, noJitter);

      // Assert
      expect(decision).toEqual({ outcome: 'failed', reason: 'gone' });
    });
  });

  describe('when the attempt did not succeed (any other answer, a timeout, a network error)', () => {
    it.each<[string, WebhookAttemptResult]>([
      ['a 199 (just below 2xx)', response(199)],
      ['a 300 (just above 2xx)', response(300)],
      ['a 301 redirect (not followed)', response(301)],
      ['a 308 redirect (not followed)', response(308)],
      ['a 400', response(400)],
      ['a 401', response(401)],
      ['a 404', response(404)],
      ['a 409', response(409)],
      ['a 429', response(429)],
      ['a 500', response(500)],
      ['a 502', response(502)],
      ['a 503', response(503)],
      ['a 504', response(504)],
      ['a timeout', TIMEOUT],
      ['a network error', NETWORK],
    ])('when it is %s on attempt 1, then it is retried after the first delay', (_what, result) => {
      // Act
      const decision = decideWebhookAttempt(result, 1, DEFAULT_DELAYS, noJitter);

      // Assert
      expect(decision).toEqual({ outcome: 'retrying', delayMs: 5 * SECOND });
    });

    it.each(DEFAULT_DELAYS.map((delayMs, i) => [i + 1, delayMs]))(
      'when attempt %i fails, then the next one waits %i ms (delaysMs[attempt - 1])',
      (attempt, delayMs) => {
        // Act
        const decision = decideWebhookAttempt(response(503), attempt, DEFAULT_DELAYS, noJitter);

        // Assert
        expect(decision).toEqual({ outcome: 'retrying', delayMs });
      },
    );
  });

  describe('jitter (± RETRY_JITTER of the scheduled delay)', () => {
    it('then the jitter is 10 %', () => {
      expect(RETRY_JITTER).toBe(0.1);
    });

    it.each([
      ['0 (the lowest)', 0, 9_000],
      ['0.25', 0.25, 9_500],
      ['0.5 (the middle)', 0.5, 10_000],
      ['0.75', 0.75, 10_500],
      ['0.999 (near the highest)', 0.999, 10_998],
    ])('when random() is %s and the delay 10 s, then the next attempt waits %i ms', (_r, r, delayMs) => {
      // Act
      const decision = decideWebhookAttempt(response(500), 1, [10 * SECOND], () => r);

      // Assert
      expect(decision).toEqual({ outcome: 'retrying', delayMs });
    });

    it.each(DEFAULT_DELAYS.flatMap((delayMs, i) => [0, 0.5, 0.999].map((r) => [i + 1, r, delayMs] as const)))(
      'when attempt %i fails with random() %p, then the wait is within ±10 % of %i ms, a whole number',
      (attempt, r, delayMs) => {
        // Act
        const decision = decideWebhookAttempt(TIMEOUT, attempt, DEFAULT_DELAYS, () => r);

        // Assert
        expect(decision.outcome).toBe('retrying');
        const waited = (decision as Extract<WebhookDecision, { outcome: 'retrying' }>).delayMs;
        expect(Number.isInteger(waited)).toBe(true);
        expect(waited).toBeGreaterThanOrEqual(Math.floor(delayMs * 0.9));
        expect(waited).toBeLessThanOrEqual(Math.ceil(delayMs * 1.1));
      },
    );

    it('when the delay is 1 ms and random() 0, then the wait is still at least 1 ms', () => {
      // Act
      const decision = decideWebhookAttempt(NETWORK, 1, [1], () => 0);

      // Assert
      expect(decision).toEqual({ outcome: 'retrying', delayMs: 1 });
    });
  });

  describe('Retry-After (at least the receiver asks, at most MAX_RETRY_AFTER_MS)', () => {
    it('then MAX_RETRY_AFTER_MS is 24 h', () => {
      expect(MAX_RETRY_AFTER_MS).toBe(24 * HOUR);
    });

    it.each<[string, number, number | null | undefined, number, () => number, number]>([
      ['longer than the delay', 429, 60, 1, noJitter, 60 * SECOND],
      ['longer than the delay, on a 503', 503, 120, 1, noJitter, 120 * SECOND],
      ['longer than the delay stretched by jitter', 503, 6, 1, () => 0.999, 6 * SECOND],
      ['shorter than the delay', 429, 1, 1, noJitter, 5 * SECOND],
      ['equal to the delay', 429, 5, 1, noJitter, 5 * SECOND],
      ['shorter than the delay shrunk by jitter', 503, 4, 1, () => 0, 4_500],
      ['0 (a past HTTP-date)', 503, 0, 1, noJitter, 5 * SECOND],
      ['null (absent or unreadable)', 503, null, 1, noJitter, 5 * SECOND],
      ['exactly 24 h', 429, 24 * 60 * 60, 1, noJitter, MAX_RETRY_AFTER_MS],
      ['24 h and 1 s', 429, 24 * 60 * 60 + 1, 1, noJitter, MAX_RETRY_AFTER_MS],
      ['10 days', 503, 10 * 24 * 60 * 60, 1, noJitter, MAX_RETRY_AFTER_MS],
      ['10 days, when the scheduled delay is longer than the cap', 503, 10 * 24 * 60 * 60, 9, noJitter, 24 * HOUR],
      ['on a redirect', 301, 60, 1, noJitter, 60 * SECOND],
    ])(
      'when it is %s, then the next attempt waits the right time',
      (_when, status, retryAfter, attempt, r, delayMs) => {
        // Act
        const decision = decideWebhookAttempt(response(status, retryAfter), attempt, DEFAULT_DELAYS, r);

        // Assert
        expect(decision).toEqual({ outcome: 'retrying', delayMs });
      },
    );

    it('when the scheduled delay exceeds the cap and Retry-After is longer still, then the schedule is not shortened', () => {
      // Act
      const decision = decideWebhookAttempt(response(503, 100 * 60 * 60), 1, [48 * HOUR], noJitter);

      // Assert
      expect(decision).toEqual({ outcome: 'retrying', delayMs: 48 * HOUR });
    });
  });

  describe('when the last delay has been used', () => {
    it.each<[string, WebhookAttemptResult, number, readonly number[]]>([
      ['a 500 on the last attempt', response(500), LAST_ATTEMPT, DEFAULT_DELAYS],
      ['a 429 with Retry-After on the last attempt', response(429, 60), LAST_ATTEMPT, DEFAULT_DELAYS],
      ['a 301 on the last attempt', response(301), LAST_ATTEMPT, DEFAULT_DELAYS],
      ['a timeout on the last attempt', TIMEOUT, LAST_ATTEMPT, DEFAULT_DELAYS],
      ['a network error on the last attempt', NETWORK, LAST_ATTEMPT, DEFAULT_DELAYS],
      ['a 500 on attempt 42 (past the schedule)', response(500), 42, DEFAULT_DELAYS],
      ['a 500 on attempt 3 of a two-delay schedule', response(500), 3, [250, 1500]],
      ['a 500 on attempt 1 of an empty schedule', response(500), 1, []],
    ])('when it is %s, then the delivery fails as retries_exhausted', (_when, result, attempt, delays) => {
      // Act
      const decision = decideWebhookAttempt(result, attempt, delays, noJitter);

      // Assert
      expect(decision).toEqual({ outcome: 'failed', reason: 'retries_exhausted' });
    });
  });

  describe('walking a whole schedule, attempt by attempt, as the dispatcher does', () => {
    /** Feeds each attempt's result to the decision until it is not `retrying`: the decisions, in order. */
    function walk(resultOf: (attempt: number) => WebhookAttemptResult, delays: readonly number[]) {
      const decisions: WebhookDecision[] = [];
      for (let attempt = 1; ; attempt++) {
        const decision = decideWebhookAttempt(resultOf(attempt), attempt, delays, noJitter);
        decisions.push(decision);
        if (decision.outcome !== 'retrying') return decisions;
      }
    }

    it('when the receiver never answers 2xx, then each delay is waited once, then the delivery fails after n + 1 attempts', () => {
      // Act
      const decisions = walk((attempt) => (attempt % 2 ? response(503) : TIMEOUT), DEFAULT_DELAYS);

      // Assert
      expect(decisions).toEqual([
        ...DEFAULT_DELAYS.map((delayMs) => ({ outcome: 'retrying', delayMs })),
        { outcome: 'failed', reason: 'retries_exhausted' },
      ]);
      expect(decisions).toHaveLength(LAST_ATTEMPT);
      const waited = decisions.reduce((sum, d) => sum + (d.outcome === 'retrying' ? d.delayMs : 0), 0);
      expect(waited).toBe(75 * HOUR + 35 * MINUTE + 5 * SECOND); // about three days
    });

    it('when the receiver recovers on attempt 4, then three delays are waited and the delivery is delivered', () => {
      // Act
      const decisions = walk((attempt) => (attempt < 4 ? NETWORK : response(204)), DEFAULT_DELAYS);

      // Assert
      expect(decisions).toEqual([
        { outcome: 'retrying', delayMs: 5 * SECOND },
        { outcome: 'retrying', delayMs: 5 * MINUTE },
        { outcome: 'retrying', delayMs: 30 * MINUTE },
        { outcome: 'delivered' },
      ]);
    });

    it('when the receiver answers 410 on attempt 3, then the delivery fails as gone there', () => {
      // Act
      const decisions = walk((attempt) => (attempt < 3 ? response(500) : response(410)), DEFAULT_DELAYS);

      // Assert
      expect(decisions).toEqual([
        { outcome: 'retrying', delayMs: 5 * SECOND },
        { outcome: 'retrying', delayMs: 5 * MINUTE },
        { outcome: 'failed', reason: 'gone' },
      ]);
    });

    it('when the schedule is custom, then it is followed and ends after its last delay', () => {
      // Act
      const decisions = walk(() => response(502), [250, 1500]);

      // Assert
      expect(decisions).toEqual([
        { outcome: 'retrying', delayMs: 250 },
        { outcome: 'retrying', delayMs: 1500 },
        { outcome: 'failed', reason: 'retries_exhausted' },
      ]);
    });
  });
});

describe('parseRetryAfter', () => {
  const NOW = new Date('2026-10-21T07:00:00.000Z');

  it.each<[string, string, number, Date]>([
    ['delay-seconds', '120', 120, NOW],
    ['delay-seconds 0', '0', 0, NOW],
    ['delay-seconds with white space around', ' 120 ', 120, NOW],
    ['delay-seconds of 10 digits', '9999999999', 9_999_999_999, NOW],
    ['delay-seconds of 11 digits (decideWebhookAttempt caps it)', '99999999999', 99_999_999_999, NOW],
    ['an HTTP-date 28 minutes ahead', 'Wed, 21 Oct 2026 07:28:00 GMT', 28 * 60, NOW],
    [
      'an HTTP-date half a second ahead (rounded up)',
      'Wed, 21 Oct 2026 07:00:01 GMT',
      1,
      new Date('2026-10-21T07:00:00.500Z'),
    ],
    ['an HTTP-date in the obsolete RFC 850 form', 'Wednesday, 21-Oct-26 07:28:00 GMT', 28 * 60, NOW],
    ['an HTTP-date that is now', 'Wed, 21 Oct 2026 07:00:00 GMT', 0, NOW],
    ['an HTTP-date in the past', 'Sun, 06 Nov 1994 08:49:37 GMT', 0, NOW],
  ])('when the header is %s (%p), then it is %i seconds from now', (_what, header, seconds, now) => {
    // Act
    const parsed = parseRetryAfter(header, now);

    // Assert
    expect(parsed).toBe(seconds);
  });

  it.each<[string, string | null | undefined]>([
    ['undefined (absent)', undefined],
    ['null (absent)', null],
    ['empty', ''],
    ['white space only', '   '],
    ['a word', 'soon'],
    ['a fraction', '1.5'],
    ['a negative number', '-5'],
    ['a signed number', '+5'],
    ['a number with a unit', '120s'],
    ['a phrase', 'in 5 minutes'],
    ['an exponent', '1e3'],
    ['a hexadecimal number', '0x10'],
    ['a weekday alone', 'Wednesday'],
    ['a word and a year, which Date.parse would read as a date', 'retry 2027'],
    ['letters and a digit', 'abc 1'],
    ['the asctime form, which has no zone (it would be read in local time)', 'Wed Oct 21 07:28:00 2026'],
    ['an IMF-fixdate in another zone', 'Wed, 21 Oct 2026 07:28:00 CET'],
    ['an ISO 8601 instant', '2026-10-21T07:28:00Z'],
  ])('when the header is %s (%p), then it is null', (_what, header) => {
    // Act
    const parsed = parseRetryAfter(header, NOW);

    // Assert
    expect(parsed).toBeNull();
  });
});

describe('webhookPayload', () => {
  /** A delivery event as the outbox relay publishes it, checked against mailEventSchema. */
  function mailEvent(overrides: Partial<MailEvent> = {}): MailEvent {
    return mailEventSchema.parse({
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
      ...overrides,
    });
  }

  it('when the event is a sent email, then the body is exactly the minified envelope {type, timestamp, data}', () => {
    // Act
    const payload = webhookPayload(mailEvent());

    // Assert
    expect(payload).toBe(
      '{"type":"email.sent","timestamp":"2026-12-01T10:00:00.123Z","data":{' +
        '"schemaVersion":1,"type":"email.sent","eventId":"3f0c2a9e-5b7d-4c1e-9a8f-2d6b1e0c7a55",' +
        '"occurredAt":"2026-12-01T10:00:00.123Z","orderId":"A-1001",' +
        '"orderEventId":"9b1e8c3d-1a2b-4c5d-8e9f-0a1b2c3d4e5f","messageId":"<9b1e8c3d@mail.shop.example>",' +
        '"recipient":"ada@example.com","status":"sent","attempt":1,"smtpCode":250,' +
        '"smtpResponse":"250 2.0.0 OK queued"}}',
    );
  });

  it.each<[string, Partial<MailEvent>]>([
    ['sent', {}],
    [
      'retrying',
      {
        type: 'email.retrying',
        status: 'retrying',
        smtpCode: 451,
        smtpResponse: '451 4.7.1 Try later',
        reason: 'smtp_transient',
      },
    ],
    [
      'dead-lettered, its recipient erased',
      { type: 'email.dead_lettered', status: 'dead', recipient: null, reason: 'retries_exhausted', attempt: 6 },
    ],
    [
      'suppressed',
      {
        type: 'email.suppressed',
        status: 'suppressed',
        attempt: 0,
        messageId: null,
        smtpCode: undefined,
        smtpResponse: undefined,
        reason: 'suppressed',
      },
    ],
  ])('when the event is %s, then type and timestamp are the event’s and data deep-equals it', (_what, overrides) => {
    // Arrange
    const event = mailEvent({ occurredAt: '2026-12-02T08:30:00Z', ...overrides });

    // Act
    const payload = webhookPayload(event);

    // Assert
    const body = JSON.parse(payload);
    expect(Object.keys(body)).toEqual(['type', 'timestamp', 'data']);
    expect(body).toEqual({ type: event.type, timestamp: '2026-12-02T08:30:00Z', data: event });
    expect(mailEventSchema.parse(body.data)).toEqual(event);
    expect(payload).toBe(JSON.stringify(body)); // minified: no white space between tokens
  });

  describe('signed with the standardwebhooks library', () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;

    /** The three Standard Webhooks headers for `payload`, signed now with `secret`. */
    function signedHeaders(payload: string, msgId: string) {
      const now = new Date();
      return {
        'webhook-id': msgId,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(msgId, now, payload),
      };
    }

    it('when the receiver verifies the very bytes signed, then it gets the envelope back', () => {
      // Arrange
      const event = mailEvent();
      const payload = webhookPayload(event);
      const headers = signedHeaders(payload, event.eventId);

      // Act
      const verified = new Webhook(secret).verify(payload, headers);

      // Assert
      expect(verified).toEqual({ type: 'email.sent', timestamp: event.occurredAt, data: event });
    });

    it('when the body is re-serialised (pretty-printed) after signing, then verification fails', () => {
      // Arrange
      const event = mailEvent();
      const payload = webhookPayload(event);
      const headers = signedHeaders(payload, event.eventId);
      const reformatted = JSON.stringify(JSON.parse(payload), null, 2);

      // Act
      const verify = () => new Webhook(secret).verify(reformatted, headers);

      // Assert
      expect(verify).toThrow(WebhookVerificationError);
    });
  });
});
