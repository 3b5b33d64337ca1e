import { EventEmitter } from 'node:events';
import type { BrokerLink, Channel, ConfirmChannel } from '@order-mail/shared/broker';
import type { MailEventType } from '@order-mail/shared/contract';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import type { Outbox, OutboxEntry, OutboxLease, OutboxStats } from '../../src/domain/mail-events';
import { createOutboxRelay, type OutboxRelay } from '../../src/entry-points/jobs/outbox-relay';
import { settle } from './fakes/settle';

/** The relay's idle poll (POLL_INTERVAL_MS). */
const POLL_MS = 500;
const EXCHANGE = 'mail.events';
const CONFIRM_TIMEOUT_MS = 10_000;

const TYPES: MailEventType[] = ['email.sent', 'email.retrying', 'email.dead_lettered', 'email.suppressed'];

function entry(n: number, type: MailEventType = TYPES[(n - 1) % TYPES.length]): OutboxEntry {
  return {
    id: String(n),
    eventId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    type,
    orderId: `A-${1000 + n}`,
    orderEventId: `order-evt-${n}`,
    messageId: `<m${n}@mail.shop.example>`,
    recipient: `ada${n}@example.com`,
    status: 'sent',
    attempt: 1,
    smtpCode: 250,
    smtpResponse: '250 2.0.0 OK queued',
    reason: null,
    occurredAt: new Date(`2026-11-25T18:00:0${n % 10}.123Z`),
  };
}

/** What the test sees happen, in order, across the fakes. */
type Trail = string[];

/** The outbox in memory: `entries` wait in it; each `tryLead` hands out a new lease while `leadable`. */
class FakeOutbox implements Outbox {
  entries: OutboxEntry[] = [];
  leases: FakeLease[] = [];
  leadable = true;
  constructor(readonly trail: Trail) {}

  async tryLead(): Promise<OutboxLease | null> {
    this.trail.push('tryLead');
    if (!this.leadable) return null;
    const lease = new FakeLease(this, this.leases.length + 1);
    this.leases.push(lease);
    return lease;
  }

  async stats(): Promise<OutboxStats> {
    return { pending: this.entries.length, oldestAgeSeconds: 0 };
  }
}

class FakeLease implements OutboxLease {
  held = true;
  released = 0;
  nextCalls = 0;
  removed: OutboxEntry[][] = [];
  constructor(
    private readonly outbox: FakeOutbox,
    readonly n: number,
  ) {}

  async next(limit: number): Promise<OutboxEntry[]> {
    this.nextCalls++;
    this.outbox.trail.push(`next(lease ${this.n})`);
    return [...this.outbox.entries].sort((a, b) => Number(a.id) - Number(b.id)).slice(0, limit);
  }

  async remove(entries: readonly OutboxEntry[]): Promise<void> {
    this.outbox.trail.push(`remove(lease ${this.n}): ${entries.map((e) => e.id).join(',')}`);
    this.removed.push([...entries]);
    this.outbox.entries = this.outbox.entries.filter((e) => !entries.includes(e));
  }

  holds(): boolean {
    return this.held;
  }

  async release(): Promise<void> {
    this.outbox.trail.push(`release(lease ${this.n})`);
    this.released++;
  }
}

type ConfirmCallback = (err: Error | null, ok?: object) => void;

interface Publish {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: { messageId: string } & Record<string, unknown>;
  callback: ConfirmCallback;
}

/**
 * What amqplib's ConfirmChannel does for the relay and `createConfirmedPublisher`: `publish`
 * with a callback the broker's ack (null) or nack (`message nacked`) ends, a mandatory message
 * no queue takes is emitted as 'return' before its ack, `publish` on a closed channel throws,
 * `on` listens. By default every publish is confirmed once the publishing code has run to its
 * next await (a microtask: jest's fake clock leaves those alone); `holdConfirms` keeps them
 * until `confirmAll`.
 */
class FakeConfirmChannel extends EventEmitter {
  published: Publish[] = [];
  closed = 0;
  holdConfirms = false;
  /** messageIds the broker nacks. */
  nack = new Set<string>();
  /** messageIds no queue is bound to take. */
  unroutable = new Set<string>();
  private readonly pending: Publish[] = [];
  constructor(
    private readonly trail: Trail,
    readonly n: number,
  ) {
    super();
  }

  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Publish['options'],
    callback: ConfirmCallback,
  ) {
    if (this.closed) throw new Error('Channel closed');
    const publish = { exchange, routingKey, content, options, callback };
    this.trail.push(`publish(channel ${this.n}): ${options.messageId}`);
    this.published.push(publish);
    this.pending.push(publish);
    if (!this.holdConfirms) void Promise.resolve().then(() => this.confirmAll());
    return true;
  }

  confirmAll(): void {
    for (const p of this.pending.splice(0)) {
      if (this.unroutable.has(p.options.messageId)) {
        this.emit('return', {
          fields: { exchange: p.exchange, routingKey: p.routingKey, replyCode: 312, replyText: 'NO_ROUTE' },
          properties: { messageId: p.options.messageId },
          content: p.content,
        });
      }
      if (this.nack.has(p.options.messageId)) {
        this.trail.push(`nack: ${p.options.messageId}`);
        p.callback(new Error('message nacked'));
      } else {
        this.trail.push(`ack: ${p.options.messageId}`);
        p.callback(null, {});
      }
    }
  }

  async close(): Promise<void> {
    this.trail.push(`close(channel ${this.n})`);
    this.closed++;
  }
}

/** The consumer's broker link: connected or not; each confirm channel opened is kept, the next one set up by `nextChannel`. */
class FakeLink implements BrokerLink {
  connected = true;
  channels: FakeConfirmChannel[] = [];
  /** Applied to each channel as it opens. */
  nextChannel: (channel: FakeConfirmChannel) => void = () => undefined;
  constructor(private readonly trail: Trail) {}

  isConnected(): boolean {
    return this.connected;
  }
  node(): string | null {
    return this.connected ? '127.0.0.1:5672' : null;
  }
  async waitForConnect(): Promise<void> {}
  async openChannel(): Promise<Channel> {
    throw new Error('the relay only needs confirm channels');
  }
  async openConfirmChannel(): Promise<ConfirmChannel> {
    const channel = new FakeConfirmChannel(this.trail, this.channels.length + 1);
    this.nextChannel(channel);
    this.channels.push(channel);
    return channel as unknown as ConfirmChannel;
  }
  async close(): Promise<void> {}
}

interface Harness {
  relay: OutboxRelay;
  outbox: FakeOutbox;
  link: FakeLink;
  trail: Trail;
  logs: LogLine[];
  published: [MailEventType, boolean][];
  removedCalls: () => number;
  linkPresent: { present: boolean };
}

function harness(): Harness {
  const trail: Trail = [];
  const outbox = new FakeOutbox(trail);
  const link = new FakeLink(trail);
  const logs: LogLine[] = [];
  const published: [MailEventType, boolean][] = [];
  const linkPresent = { present: true };
  let removed = 0;
  const relay = createOutboxRelay({
    outbox,
    link: () => (linkPresent.present ? link : null),
    exchange: EXCHANGE,
    confirmTimeoutMs: CONFIRM_TIMEOUT_MS,
    ready: () => true,
    logger: capturingLogger(logs),
    onPublished: (type, routed) => published.push([type, routed]),
    onRemoved: () => {
      removed++;
      trail.push('onRemoved');
    },
  });
  return { relay, outbox, link, trail, logs, published, removedCalls: () => removed, linkPresent };
}

/** The messageIds published on `channel`, in order. */
const ids = (channel: FakeConfirmChannel) => channel.published.map((p) => p.options.messageId);

describe('createOutboxRelay', () => {
  let h: Harness;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-25T18:00:00Z'), doNotFake: ['nextTick', 'setImmediate'] });
  });

  afterEach(async () => {
    const stopped = h.relay.stop();
    for (const channel of h.link.channels) channel.confirmAll();
    await jest.advanceTimersByTimeAsync(CONFIRM_TIMEOUT_MS);
    await stopped;
    jest.useRealTimers();
  });

  it('when the connection was lost and came back, then the first batch goes out on a new channel without a failed round', async () => {
    h = harness();
    h.outbox.entries = [entry(1)];
    h.relay.start();
    await settle();
    // connection lost: amqplib closes its channels
    h.link.connected = false;
    for (const c of h.link.channels) c.closed = 1;
    await jest.advanceTimersByTimeAsync(2 * POLL_MS);
    h.link.connected = true;
    h.outbox.entries = [entry(2)];
    await jest.advanceTimersByTimeAsync(POLL_MS);

    // Assert: no failed round (no warning), and the new event went out on a new channel
    expect(h.logs.filter((l) => l.level >= 40)).toEqual([]);
    expect(h.trail).toContain('publish(channel 2): 00000000-0000-4000-8000-000000000002');
  });

  it('when stopped while the relay tries to lead, then the stop resolves without waiting for the lead retry', async () => {
    h = harness();
    h.outbox.leadable = false;
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const orig = h.outbox.tryLead.bind(h.outbox);
    h.outbox.tryLead = async () => {
      await gate;
      return orig();
    };
    h.relay.start();
    await settle();
    let stopped = false;
    const stopping = h.relay.stop().then(() => {
      stopped = true;
    });
    open();
    await settle();
    await jest.advanceTimersByTimeAsync(POLL_MS);
    const at500 = stopped;
    await jest.advanceTimersByTimeAsync(2000);
    await stopping;
    expect(at500).toBe(true);
  });

  it('when woken while the relay reads, then the wake is kept and the new event goes out without waiting for the poll', async () => {
    h = harness();
    h.relay.start();
    await settle();
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const lease = h.outbox.leases[0];
    const orig = lease.next.bind(lease);
    lease.next = async (n: number) => {
      const got = await orig(n);
      await gate;
      return got;
    };
    await jest.advanceTimersByTimeAsync(POLL_MS); // second read, blocked, sees nothing
    h.outbox.entries = [entry(1)];
    h.relay.wake();
    open();
    await settle();
    lease.next = orig;
    await jest.advanceTimersByTimeAsync(100); // WAKE_DELAY_MS is 50
    expect(h.link.channels.flatMap(ids)).toEqual([entry(1).eventId]);
  });

  describe('publishing', () => {
    it('when events wait, then they are published in id order, routing key = type, persistent JSON with messageId = eventId', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(3), entry(1), entry(2)];

      // Act
      h.relay.start();
      await settle();

      // Assert
      const [channel] = h.link.channels;
      expect(h.link.channels).toHaveLength(1);
      expect(ids(channel)).toEqual([entry(1).eventId, entry(2).eventId, entry(3).eventId]);
      for (const [i, p] of channel.published.entries()) {
        const e = entry(i + 1);
        expect(p.exchange).toBe(EXCHANGE);
        expect(p.routingKey).toBe(e.type);
        expect(p.options).toMatchObject({
          messageId: e.eventId,
          type: e.type,
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          timestamp: Math.floor(e.occurredAt.getTime() / 1000),
        });
      }
      expect(JSON.parse(channel.published[0].content.toString('utf8'))).toEqual({
        schemaVersion: 1,
        type: 'email.sent',
        eventId: entry(1).eventId,
        occurredAt: '2026-11-25T18:00:01.123Z',
        orderId: 'A-1001',
        orderEventId: 'order-evt-1',
        messageId: '<m1@mail.shop.example>',
        recipient: 'ada1@example.com',
        status: 'sent',
        attempt: 1,
        smtpCode: 250,
        smtpResponse: '250 2.0.0 OK queued',
      });
      expect(h.published).toEqual([
        ['email.sent', true],
        ['email.retrying', true],
        ['email.dead_lettered', true],
      ]);
    });

    it('when every publish of a batch is confirmed, then exactly those entries are removed, then onRemoved is called', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1), entry(2)];
      h.link.nextChannel = (channel) => {
        channel.holdConfirms = true;
      };
      h.relay.start();
      await settle();
      const removedBeforeConfirms = h.outbox.leases[0].removed.length;

      // Act
      h.link.channels[0].confirmAll();
      await settle();

      // Assert
      expect(removedBeforeConfirms).toBe(0);
      const lease = h.outbox.leases[0];
      expect(lease.removed).toEqual([[entry(1), entry(2)]]);
      expect(h.outbox.entries).toEqual([]);
      expect(h.removedCalls()).toBe(1);
      expect(h.trail.slice(h.trail.indexOf(`ack: ${entry(2).eventId}`))).toEqual([
        `ack: ${entry(2).eventId}`,
        'remove(lease 1): 1,2',
        'onRemoved',
      ]);
    });

    it('when more events are written later, then the next round publishes only those, on the same channel', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1)];
      h.relay.start();
      await settle();

      // Act
      h.outbox.entries.push(entry(2));
      await jest.advanceTimersByTimeAsync(POLL_MS);

      // Assert
      expect(h.link.channels).toHaveLength(1);
      expect(ids(h.link.channels[0])).toEqual([entry(1).eventId, entry(2).eventId]);
      expect(h.outbox.leases[0].removed).toEqual([[entry(1)], [entry(2)]]);
      expect(h.removedCalls()).toBe(2);
    });

    it('when no queue is bound to an event (the broker returns it), then it counts as published unrouted and is removed', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1), entry(2)];
      h.link.nextChannel = (channel) => channel.unroutable.add(entry(2).eventId);

      // Act
      h.relay.start();
      await settle();

      // Assert
      expect(h.published).toEqual([
        ['email.sent', true],
        ['email.retrying', false],
      ]);
      expect(h.outbox.leases[0].removed).toEqual([[entry(1), entry(2)]]);
    });

    it('when the relay is woken, then it looks at the outbox before the poll', async () => {
      // Arrange
      h = harness();
      h.relay.start();
      await settle();
      h.outbox.entries = [entry(1)];

      // Act
      h.relay.wake();
      await jest.advanceTimersByTimeAsync(POLL_MS / 2);

      // Assert
      expect(h.link.channels[0] && ids(h.link.channels[0])).toEqual([entry(1).eventId]);
    });
  });

  describe('a batch that fails', () => {
    it('when one publish of a batch is nacked, then nothing is removed and the whole batch is published again next round', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1), entry(2), entry(3)];
      h.link.nextChannel = (channel) => {
        if (channel.n === 1) channel.nack.add(entry(2).eventId);
      };

      // Act: the first round
      h.relay.start();
      await settle();

      // Assert
      expect(ids(h.link.channels[0])).toEqual([entry(1).eventId, entry(2).eventId, entry(3).eventId]);
      expect(h.outbox.leases[0].removed).toEqual([]);
      expect(h.removedCalls()).toBe(0);
      expect(h.published).toEqual([]);
      const warning = h.logs.find((l) => l.msg === 'delivery events not relayed yet; trying again');
      expect(warning).toMatchObject({ level: 40 });
      expect(JSON.stringify(warning)).toContain('ERR_PUBLISH_NACKED');
      // The failed channel is given up.
      expect(h.link.channels[0].closed).toBe(1);

      // Act: the next round
      await jest.advanceTimersByTimeAsync(POLL_MS);

      // Assert
      expect(h.link.channels).toHaveLength(2);
      expect(ids(h.link.channels[1])).toEqual([entry(1).eventId, entry(2).eventId, entry(3).eventId]);
      expect(h.outbox.leases).toHaveLength(1);
      expect(h.outbox.leases[0].removed).toEqual([[entry(1), entry(2), entry(3)]]);
      expect(h.removedCalls()).toBe(1);
    });

    it('when a confirm does not come in time, then nothing is removed and the batch is published again', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1)];
      h.link.nextChannel = (channel) => {
        channel.holdConfirms = channel.n === 1;
      };
      h.relay.start();
      await settle();

      // Act
      await jest.advanceTimersByTimeAsync(CONFIRM_TIMEOUT_MS + POLL_MS);

      // Assert
      expect(h.outbox.leases[0].removed).toEqual([[entry(1)]]);
      expect(h.link.channels).toHaveLength(2);
      expect(ids(h.link.channels[1])).toEqual([entry(1).eventId]);
      expect(JSON.stringify(h.logs)).toContain('ERR_PUBLISH_TIMEOUT');
    });
  });

  describe('the lease', () => {
    it.each([
      ['the broker link is not connected', (x: Harness) => (x.link.connected = false)],
      ['there is no broker link', (x: Harness) => (x.linkPresent.present = false)],
    ])(
      'when %s, then the lease is released (another mailer may relay) and nothing is read or published',
      async (_case, disconnect) => {
        // Arrange: the relay leads, the outbox is empty.
        h = harness();
        h.relay.start();
        await settle();
        const lease = h.outbox.leases[0];
        expect(lease.nextCalls).toBe(1);

        // Act
        disconnect(h);
        h.outbox.entries = [entry(1)];
        await jest.advanceTimersByTimeAsync(5 * POLL_MS);

        // Assert
        expect(lease.released).toBe(1);
        expect(lease.nextCalls).toBe(1);
        expect(h.outbox.leases).toHaveLength(1);
        expect(h.link.channels.flatMap(ids)).toEqual([]);
      },
    );

    it('when the broker link connects again, then the relay leads again and publishes what waited', async () => {
      // Arrange
      h = harness();
      h.link.connected = false;
      h.outbox.entries = [entry(1)];
      h.relay.start();
      await jest.advanceTimersByTimeAsync(2 * POLL_MS);
      expect(h.trail).toEqual([]);

      // Act
      h.link.connected = true;
      await jest.advanceTimersByTimeAsync(POLL_MS);

      // Assert
      expect(h.outbox.leases).toHaveLength(1);
      expect(h.outbox.leases[0].removed).toEqual([[entry(1)]]);
    });

    it("when the lease's holds() turns false, then it is released and taken again, and the new lease reads and removes", async () => {
      // Arrange
      h = harness();
      h.relay.start();
      await settle();
      const first = h.outbox.leases[0];

      // Act
      first.held = false;
      h.outbox.entries = [entry(1)];
      await jest.advanceTimersByTimeAsync(POLL_MS);

      // Assert
      expect(first.released).toBe(1);
      expect(first.nextCalls).toBe(1);
      expect(h.outbox.leases).toHaveLength(2);
      const second = h.outbox.leases[1];
      expect(second.released).toBe(0);
      expect(second.removed).toEqual([[entry(1)]]);
      expect(h.trail.indexOf('release(lease 1)')).toBeLessThan(h.trail.lastIndexOf('tryLead'));
    });

    it('when another mailer holds the lease, then nothing is read and the relay tries to lead again later', async () => {
      // Arrange
      h = harness();
      h.outbox.leadable = false;
      h.outbox.entries = [entry(1)];

      // Act
      h.relay.start();
      await settle();
      h.outbox.leadable = true;
      await jest.advanceTimersByTimeAsync(10 * POLL_MS);

      // Assert
      expect(h.trail.slice(0, 3)).toEqual(['tryLead', 'tryLead', 'next(lease 1)']);
      expect(h.trail.filter((t) => t === 'tryLead')).toHaveLength(2);
      expect(h.outbox.leases).toHaveLength(1);
      expect(h.outbox.leases[0].removed).toEqual([[entry(1)]]);
    });
  });

  describe('stop', () => {
    it('when stopped while idle, then the lease is released and the channel closed, and nothing is read after', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1)];
      h.relay.start();
      await settle();
      const lease = h.outbox.leases[0];
      const channel = h.link.channels[0];

      let stopped = false;

      // Act
      const stopping = h.relay.stop().then(() => {
        stopped = true;
      });
      await settle();
      const stoppedAtOnce = stopped;
      h.outbox.entries = [entry(2)];
      await jest.advanceTimersByTimeAsync(10 * POLL_MS);
      await stopping;

      // Assert
      expect(stoppedAtOnce).toBe(true);
      expect(lease.released).toBe(1);
      expect(channel.closed).toBe(1);
      expect(lease.nextCalls).toBe(1);
      expect(h.outbox.leases).toHaveLength(1);
      expect(ids(channel)).toEqual([entry(1).eventId]);
    });

    it('when stopped during a batch, then it finishes the batch (removes it) before it releases the lease and closes the channel', async () => {
      // Arrange
      h = harness();
      h.outbox.entries = [entry(1), entry(2)];
      h.link.nextChannel = (channel) => {
        channel.holdConfirms = true;
      };
      h.relay.start();
      await settle();
      let stopped = false;

      // Act
      const stopping = h.relay.stop().then(() => {
        stopped = true;
      });
      await settle();
      const stoppedBeforeConfirms = stopped;
      h.link.channels[0].confirmAll();
      // A stop during a round is noticed at the end of the pause that follows it (see the report).
      await jest.advanceTimersByTimeAsync(POLL_MS);
      await stopping;

      // Assert
      expect(stoppedBeforeConfirms).toBe(false);
      const after = h.trail.slice(h.trail.indexOf('remove(lease 1): 1,2'));
      expect(after.slice(0, 2)).toEqual(['remove(lease 1): 1,2', 'onRemoved']);
      expect(after.slice(2).sort()).toEqual(['close(channel 1)', 'release(lease 1)']);
    });
  });
});
