import type { MailEvent } from '@order-mail/shared/contract';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import type { SentWebhook, WebhookSender } from '../../src/adapters/webhooks/webhook-sender';
import type {
  ClaimedWebhook,
  WebhookAttemptRecord,
  WebhookAttemptResult,
  WebhookDecision,
  WebhookOutcome,
  WebhookQueue,
  WebhookStats,
} from '../../src/domain/webhooks';
import { createWebhookDispatcher, type WebhookDispatcher } from '../../src/entry-points/jobs/webhook-dispatcher';
import { settle } from './fakes/settle';

/** The dispatcher's idle poll (POLL_INTERVAL_MS): every "at once" below happens with the clock standing still. */
const POLL_MS = 1000;
const RETRY_DELAYS_MS = [60_000, 300_000] as const;
const TIMEOUT_MS = 15_000;
const URL = 'https://hooks.shop.example/mail-events';

function mailEvent(n: number): MailEvent {
  return {
    schemaVersion: 1,
    type: 'email.sent',
    eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    occurredAt: '2026-11-25T18:00:00.000Z',
    orderId: `A-${1000 + n}`,
    orderEventId: `order-evt-${n}`,
    messageId: `<m${n}@mail.shop.example>`,
    recipient: `ada${n}@example.com`,
    status: 'sent',
    attempt: 1,
  };
}

function delivery(n: number, attempt = 1): ClaimedWebhook {
  return { id: String(n), event: mailEvent(n), attempt };
}

/** A webhook queue in memory: `due` is what the next claims hand out, oldest first; `records` what was recorded. */
class FakeQueue implements WebhookQueue {
  due: ClaimedWebhook[] = [];
  claims: { limit: number; leaseMs: number }[] = [];
  records: WebhookAttemptRecord[] = [];
  /** The next claims reject with these, one each. */
  claimErrors: Error[] = [];
  /** Deliveries whose record rejects. */
  recordErrors = new Map<string, Error>();
  /** While set, a record waits for it before it is kept. */
  recordGate: Promise<void> | null = null;

  /** While set, a claim waits for it before it answers (a slow query); it has taken its rows already, as a statement's snapshot would. */
  claimGate: Promise<void> | null = null;
  async claim(limit: number, leaseMs: number): Promise<ClaimedWebhook[]> {
    this.claims.push({ limit, leaseMs });
    const err = this.claimErrors.shift();
    const taken = err ? [] : this.due.splice(0, limit);
    if (this.claimGate) await this.claimGate;
    if (err) throw err;
    return taken;
  }

  async record(attempt: WebhookAttemptRecord): Promise<void> {
    if (this.recordGate) await this.recordGate;
    const err = this.recordErrors.get(attempt.deliveryId);
    if (err) throw err;
    this.records.push(attempt);
  }

  async stats(): Promise<WebhookStats> {
    return { pending: this.due.length, oldestPendingAgeSeconds: 0, failed: 0 };
  }
}

/** A sender whose POSTs end when the test answers them. */
class FakeSender implements WebhookSender {
  readonly url = URL;
  private readonly open = new Map<string, (sent: SentWebhook) => void>();
  /** The eventIds sent, in order. */
  sent: string[] = [];
  /** The most POSTs under way at once. */
  mostUnderWay = 0;

  send(event: MailEvent): Promise<SentWebhook> {
    this.sent.push(event.eventId);
    return new Promise((resolve) => {
      this.open.set(event.eventId, resolve);
      this.mostUnderWay = Math.max(this.mostUnderWay, this.open.size);
    });
  }

  get underWay(): string[] {
    return [...this.open.keys()];
  }

  /** Ends the POST of `eventId` with `result` (a response with `status`, or a timeout). */
  answer(eventId: string, result: WebhookAttemptResult, durationMs = 120): void {
    const resolve = this.open.get(eventId);
    if (!resolve) throw new Error(`no POST of ${eventId} under way`);
    this.open.delete(eventId);
    resolve({
      result,
      statusCode: result.kind === 'response' ? result.status : null,
      error: result.kind === 'timeout' ? `timeout after ${TIMEOUT_MS} ms` : null,
      durationMs,
      responseExcerpt: result.kind === 'response' ? `status ${result.status}` : null,
    });
  }

  answerStatus(eventId: string, status: number, durationMs = 120): void {
    this.answer(eventId, { kind: 'response', status }, durationMs);
  }
}

interface Harness {
  dispatcher: WebhookDispatcher;
  queue: FakeQueue;
  sender: FakeSender;
  logs: LogLine[];
  attempts: [WebhookOutcome, number][];
  readiness: { ready: boolean };
}

function harness(concurrency = 3): Harness {
  const queue = new FakeQueue();
  const sender = new FakeSender();
  const logs: LogLine[] = [];
  const attempts: [WebhookOutcome, number][] = [];
  const readiness = { ready: true };
  const dispatcher = createWebhookDispatcher({
    queue,
    sender,
    retryDelaysMs: RETRY_DELAYS_MS,
    concurrency,
    timeoutMs: TIMEOUT_MS,
    ready: () => readiness.ready,
    logger: capturingLogger(logs),
    onAttempt: (outcome, seconds) => attempts.push([outcome, seconds]),
  });
  return { dispatcher, queue, sender, logs, attempts, readiness };
}

describe('createWebhookDispatcher', () => {
  let h: Harness;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-25T18:00:00Z'), doNotFake: ['nextTick', 'setImmediate'] });
  });

  afterEach(async () => {
    // End whatever a test left under way so that no loop outlives it.
    const stopped = h.dispatcher.stop();
    for (const eventId of h.sender.underWay) h.sender.answerStatus(eventId, 200);
    h.queue.recordGate = null;
    await jest.advanceTimersByTimeAsync(5 * POLL_MS);
    await stopped;
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('when a POST ends while a claim is under way, then its slot is refilled right after the claim, not at the next poll', async () => {
    h = harness(2);
    h.queue.due = [delivery(1)];
    h.dispatcher.start();
    await settle();
    // POST 1 under way, one free slot; the next poll claims 1 (slow query)
    let open!: () => void;
    h.queue.claimGate = new Promise<void>((r) => {
      open = r;
    });
    h.queue.due = [delivery(2), delivery(3), delivery(4)];
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(h.queue.claims).toHaveLength(2);
    h.sender.answerStatus(mailEvent(1).eventId, 200); // ends during the claim
    await settle();
    h.queue.claimGate = null;
    open();
    await settle();
    // one slot is free and 2 deliveries are due: expect them claimed without the poll
    expect(h.sender.underWay).toHaveLength(2);
  });

  it('when woken while a claim is under way, then the wake is kept and the new delivery claimed right after, not at the next poll', async () => {
    h = harness(2);
    h.dispatcher.start();
    await settle();
    let open!: () => void;
    h.queue.claimGate = new Promise<void>((r) => {
      open = r;
    });
    await jest.advanceTimersByTimeAsync(POLL_MS); // the poll's claim has found nothing and is slow to answer

    // Act: the relay adds a delivery and wakes the dispatcher while that claim is under way
    h.queue.due = [delivery(5)];
    h.dispatcher.wake();
    h.queue.claimGate = null;
    open();
    await settle();

    // Assert: claimed and sent without the clock moving to the next poll
    expect(h.sender.sent).toEqual([mailEvent(5).eventId]);
  });

  it('when stopped while a claim is under way, then the stop resolves once its POSTs ended, without waiting for the poll', async () => {
    h = harness(2);
    h.dispatcher.start();
    await settle();
    let open!: () => void;
    h.queue.claimGate = new Promise<void>((r) => {
      open = r;
    });
    h.queue.due = [delivery(9)];
    await jest.advanceTimersByTimeAsync(POLL_MS); // claim blocked
    let stopped = false;
    const stopping = h.dispatcher.stop().then(() => {
      stopped = true;
    });
    h.queue.claimGate = null;
    open();
    await settle();
    for (const id of h.sender.underWay) h.sender.answerStatus(id, 200);
    await settle();
    const soon = stopped;
    await jest.advanceTimersByTimeAsync(POLL_MS);
    await stopping;
    expect(soon).toBe(true);
  });

  describe('concurrency', () => {
    it('when many deliveries are due, then never more than `concurrency` POSTs are under way, even across polls', async () => {
      // Arrange
      h = harness(3);
      h.queue.due = Array.from({ length: 10 }, (_, i) => delivery(i + 1));

      // Act
      h.dispatcher.start();
      await settle();
      await jest.advanceTimersByTimeAsync(5 * POLL_MS);

      // Assert
      expect(h.sender.sent).toEqual([1, 2, 3].map((n) => mailEvent(n).eventId));
      expect(h.sender.mostUnderWay).toBe(3);
      expect(h.queue.claims[0]).toEqual({ limit: 3, leaseMs: expect.any(Number) });
      // With every slot taken, polls claim nothing more.
      expect(h.queue.claims).toHaveLength(1);
      expect(h.queue.due).toHaveLength(7);
    });

    it('when a POST ends, then its slot is refilled at once (before the poll), one more claimed, never above the limit', async () => {
      // Arrange
      h = harness(3);
      h.queue.due = Array.from({ length: 10 }, (_, i) => delivery(i + 1));
      h.dispatcher.start();
      await settle();

      // Act: the clock stands still, so anything claimed now did not wait for the poll.
      h.sender.answerStatus(mailEvent(2).eventId, 200);
      await settle();

      // Assert
      expect(h.queue.claims.map((c) => c.limit)).toEqual([3, 1]);
      expect(h.sender.sent).toEqual([1, 2, 3, 4].map((n) => mailEvent(n).eventId));
      expect(h.sender.underWay).toEqual([1, 3, 4].map((n) => mailEvent(n).eventId));
      expect(h.sender.mostUnderWay).toBe(3);
    });

    it('when two POSTs end together, then both slots are refilled before the poll', async () => {
      // Arrange
      h = harness(3);
      h.queue.due = Array.from({ length: 10 }, (_, i) => delivery(i + 1));
      h.dispatcher.start();
      await settle();

      // Act
      h.sender.answerStatus(mailEvent(1).eventId, 200);
      h.sender.answerStatus(mailEvent(3).eventId, 500);
      await settle();

      // Assert
      expect(h.sender.underWay).toHaveLength(3);
      expect(h.sender.sent).toHaveLength(5);
      expect(h.sender.mostUnderWay).toBe(3);
    });

    it('when a claim asks for deliveries, then it leases them for longer than the POST timeout', async () => {
      // Arrange
      h = harness(2);
      h.queue.due = [delivery(1)];

      // Act
      h.dispatcher.start();
      await settle();

      // Assert
      expect(h.queue.claims).toHaveLength(1);
      expect(h.queue.claims[0].leaseMs).toBeGreaterThan(TIMEOUT_MS);
    });
  });

  describe('recording attempts', () => {
    it.each<[string, number, WebhookAttemptResult, WebhookDecision]>([
      ['a 2xx answer', 1, { kind: 'response', status: 204 }, { outcome: 'delivered' }],
      [
        'a 500 on the first attempt',
        1,
        { kind: 'response', status: 500 },
        { outcome: 'retrying', delayMs: RETRY_DELAYS_MS[0] },
      ],
      ['a timeout on the second attempt', 2, { kind: 'timeout' }, { outcome: 'retrying', delayMs: RETRY_DELAYS_MS[1] }],
      ['a 410 Gone', 1, { kind: 'response', status: 410 }, { outcome: 'failed', reason: 'gone' }],
      [
        'a 500 on the last attempt',
        RETRY_DELAYS_MS.length + 1,
        { kind: 'response', status: 500 },
        { outcome: 'failed', reason: 'retries_exhausted' },
      ],
    ])(
      'when the POST comes to %s (attempt %p), then the attempt is recorded with that decision and counted',
      async (_case, attempt, result, decision) => {
        // Arrange: no jitter, so the delay is the scheduled one exactly.
        jest.spyOn(Math, 'random').mockReturnValue(0.5);
        h = harness();
        h.queue.due = [delivery(7, attempt)];
        h.dispatcher.start();
        await settle();

        // Act
        h.sender.answer(mailEvent(7).eventId, result, 250);
        await settle();

        // Assert
        expect(h.queue.records).toEqual([
          {
            deliveryId: '7',
            attempt,
            url: URL,
            statusCode: result.kind === 'response' ? result.status : null,
            error: result.kind === 'timeout' ? `timeout after ${TIMEOUT_MS} ms` : null,
            durationMs: 250,
            responseExcerpt: result.kind === 'response' ? `status ${result.status}` : null,
            decision,
          },
        ]);
        expect(h.attempts).toEqual([[decision.outcome, 0.25]]);
      },
    );

    it('when an attempt fails for good, then it is logged at error without the recipient', async () => {
      // Arrange
      h = harness();
      h.queue.due = [delivery(7)];
      h.dispatcher.start();
      await settle();

      // Act
      h.sender.answerStatus(mailEvent(7).eventId, 410);
      await settle();

      // Assert
      const line = h.logs.find((l) => l.msg.startsWith('webhook given up'));
      expect(line).toMatchObject({ level: 50, eventId: mailEvent(7).eventId, statusCode: 410, reason: 'gone' });
      expect(JSON.stringify(h.logs)).not.toContain(mailEvent(7).recipient);
    });

    it('when a record rejects, then it is logged at warn, not counted, and the loop goes on with the next delivery', async () => {
      // Arrange
      h = harness(1);
      h.queue.due = [delivery(1), delivery(2)];
      h.queue.recordErrors.set('1', new Error('connection terminated unexpectedly'));
      h.dispatcher.start();
      await settle();

      // Act
      h.sender.answerStatus(mailEvent(1).eventId, 200);
      await settle();
      h.sender.answerStatus(mailEvent(2).eventId, 200);
      await settle();

      // Assert
      const warning = h.logs.find((l) => l.msg === 'webhook attempt not recorded; it is made again');
      expect(warning).toMatchObject({ level: 40, eventId: mailEvent(1).eventId });
      expect(JSON.stringify(warning)).toContain('connection terminated unexpectedly');
      expect(h.attempts).toEqual([['delivered', 0.12]]);
      expect(h.queue.records.map((r) => r.deliveryId)).toEqual(['2']);
    });
  });

  describe('when to claim', () => {
    it('when the ledger is not ready, then nothing is claimed, across polls', async () => {
      // Arrange
      h = harness();
      h.readiness.ready = false;
      h.queue.due = [delivery(1)];

      // Act
      h.dispatcher.start();
      h.dispatcher.wake();
      await settle();
      await jest.advanceTimersByTimeAsync(5 * POLL_MS);

      // Assert
      expect(h.queue.claims).toHaveLength(0);
      expect(h.sender.sent).toEqual([]);
    });

    it('when the ledger becomes ready, then the next poll claims', async () => {
      // Arrange
      h = harness();
      h.readiness.ready = false;
      h.queue.due = [delivery(1)];
      h.dispatcher.start();
      await settle();

      // Act
      h.readiness.ready = true;
      await jest.advanceTimersByTimeAsync(POLL_MS);

      // Assert
      expect(h.queue.claims).toHaveLength(1);
      expect(h.sender.sent).toEqual([mailEvent(1).eventId]);
    });

    it('when nothing is due, then an idle dispatcher claims only once per poll', async () => {
      // Arrange
      h = harness();
      h.dispatcher.start();
      await settle();
      expect(h.queue.claims).toHaveLength(1);

      // Act
      await jest.advanceTimersByTimeAsync(POLL_MS - 1);
      const beforePoll = h.queue.claims.length;
      await jest.advanceTimersByTimeAsync(1);

      // Assert
      expect(beforePoll).toBe(1);
      expect(h.queue.claims).toHaveLength(2);
    });

    it('when an idle dispatcher is woken, then it claims at once, without waiting for the poll', async () => {
      // Arrange
      h = harness();
      h.dispatcher.start();
      await settle();
      expect(h.queue.claims).toHaveLength(1);
      h.queue.due = [delivery(1)];

      // Act
      h.dispatcher.wake();
      await settle();

      // Assert
      expect(h.queue.claims).toHaveLength(2);
      expect(h.sender.sent).toEqual([mailEvent(1).eventId]);
    });

    it('when a claim rejects, then it is logged, not retried at once, retried later, and the loop survives', async () => {
      // Arrange
      h = harness();
      h.queue.claimErrors = [new Error('Connection terminated due to connection timeout')];
      h.queue.due = [delivery(1)];

      // Act
      h.dispatcher.start();
      await settle();
      const claimsRightAfter = h.queue.claims.length;
      await jest.advanceTimersByTimeAsync(5 * POLL_MS);

      // Assert
      expect(claimsRightAfter).toBe(1);
      const warning = h.logs.find((l) => l.msg === 'webhook deliveries not read; trying again');
      expect(warning).toMatchObject({ level: 40 });
      expect(JSON.stringify(warning)).toContain('Connection terminated due to connection timeout');
      expect(h.queue.claims.length).toBeGreaterThanOrEqual(2);
      expect(h.sender.sent).toEqual([mailEvent(1).eventId]);
    });
  });

  describe('stop', () => {
    it('when stopped with POSTs under way, then it claims no more and resolves only once they ended and were recorded', async () => {
      // Arrange: a slot stays free, so only stopping keeps the dispatcher from claiming.
      h = harness(3);
      h.queue.due = [delivery(1), delivery(2)];
      h.dispatcher.start();
      await settle();
      expect(h.sender.underWay).toHaveLength(2);
      let stopped = false;

      // Act: stop, then more deliveries fall due and polls pass.
      const stopping = h.dispatcher.stop().then(() => {
        stopped = true;
      });
      h.queue.due = [delivery(3)];
      let openRecords!: () => void;
      h.queue.recordGate = new Promise<void>((resolve) => {
        openRecords = resolve;
      });
      await jest.advanceTimersByTimeAsync(5 * POLL_MS);
      const stoppedWhileSending = stopped;
      h.sender.answerStatus(mailEvent(1).eventId, 200);
      h.sender.answerStatus(mailEvent(2).eventId, 500);
      await settle();
      const stoppedBeforeRecords = stopped;
      openRecords();
      await stopping;

      // Assert
      expect(stoppedWhileSending).toBe(false);
      expect(stoppedBeforeRecords).toBe(false);
      expect(h.queue.records.map((r) => r.deliveryId).sort()).toEqual(['1', '2']);
      expect(h.attempts.map(([outcome]) => outcome).sort()).toEqual(['delivered', 'retrying']);
      expect(h.queue.claims).toHaveLength(1);
      expect(h.sender.sent).toHaveLength(2);
    });

    it('when stopped while idle, then it resolves without waiting for the poll and claims no more', async () => {
      // Arrange
      h = harness();
      h.dispatcher.start();
      await settle();
      let stopped = false;

      // Act
      const stopping = h.dispatcher.stop().then(() => {
        stopped = true;
      });
      await settle();
      const stoppedAtOnce = stopped;
      h.queue.due = [delivery(1)];
      await jest.advanceTimersByTimeAsync(5 * POLL_MS);
      await stopping;

      // Assert
      expect(stoppedAtOnce).toBe(true);
      expect(h.queue.claims).toHaveLength(1);
      expect(h.sender.sent).toEqual([]);
    });
  });
});
