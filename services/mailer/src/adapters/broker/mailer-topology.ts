import type { Channel, ChannelOpener } from '@order-mail/shared/broker';
import type { Logger } from '@order-mail/shared/logger';
import type { MailerConfig } from '../../config';

export interface MailerTopology {
  ordersExchange: string;
  routingKey: string;
  workQueue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  /** Topic exchange of the delivery events (`MAIL_EVENTS_EXCHANGE`); the outbox relay publishes to it. */
  mailEventsExchange: string;
  /** Deliveries of one message before the broker dead-letters it (a crash-loop guard). */
  deliveryLimit: number;
  /** One retry queue per distinct delay. */
  retryDelaysMs: readonly number[];
  /** How long an outcome-unknown (or in-progress) message waits in the hold queue. */
  holdDelayMs: number;
  /**
   * `x-quorum-initial-group-size` of the queues this mailer creates (QUORUM_INITIAL_GROUP_SIZE);
   * undefined: not sent (RabbitMQ's default: every node of the cluster in 3.x).
   */
  quorumGroupSize?: number;
}

/** The config keys the topology is made of. */
export type TopologyConfig = Pick<
  MailerConfig,
  | 'ORDERS_EXCHANGE'
  | 'ORDER_CONFIRMED_ROUTING_KEY'
  | 'MAILER_QUEUE'
  | 'DEAD_LETTER_EXCHANGE'
  | 'DEAD_LETTER_QUEUE'
  | 'MAIL_EVENTS_EXCHANGE'
  | 'DELIVERY_LIMIT'
  | 'RETRY_DELAYS'
  | 'UNKNOWN_OUTCOME_GRACE_MS'
  | 'QUORUM_INITIAL_GROUP_SIZE'
>;

/** The mailer's exchanges and queues as its config names them (the one mapping; tests reuse it). */
export function mailerTopologyFromConfig(config: TopologyConfig): MailerTopology {
  return {
    ordersExchange: config.ORDERS_EXCHANGE,
    routingKey: config.ORDER_CONFIRMED_ROUTING_KEY,
    workQueue: config.MAILER_QUEUE,
    deadLetterExchange: config.DEAD_LETTER_EXCHANGE,
    deadLetterQueue: config.DEAD_LETTER_QUEUE,
    mailEventsExchange: config.MAIL_EVENTS_EXCHANGE,
    deliveryLimit: config.DELIVERY_LIMIT,
    retryDelaysMs: config.RETRY_DELAYS,
    holdDelayMs: config.UNKNOWN_OUTCOME_GRACE_MS,
    quorumGroupSize: config.QUORUM_INITIAL_GROUP_SIZE,
  };
}

/** Headers the mailer reads and writes on messages it retries, holds or dead-letters. */
export const MailerHeaders = {
  /**
   * Failed sends of this message so far, the retry schedule's counter; a replay resets it.
   * Mailers before this header counted failed sends in `x-attempts`: `readSendFailures` reads that
   * when this one is absent, for copies already waiting in queues.
   */
  sendFailures: 'x-send-failures',
  /**
   * The ledger's attempts (claims of the order's delivery, each a send or a try at one) when the
   * copy was made: on retry copies and dead letters, so the queue's and the ledger's views agree.
   */
  attempts: 'x-attempts',
  /** Unexpected errors (e.g. the database was down) so far; they follow the retry schedule too. */
  internalErrors: 'x-internal-errors',
  lastError: 'x-last-error',
  lastErrorClass: 'x-last-error-class',
  firstFailureAt: 'x-first-failure-at',
  lastFailureAt: 'x-last-failure-at',
  smtpCode: 'x-smtp-code',
  smtpResponse: 'x-smtp-response',
  workerId: 'x-worker-id',
  holdReason: 'x-hold-reason',
  deadLetterReason: 'x-dead-letter-reason',
  replayedAt: 'x-replayed-at',
  replayCount: 'x-replay-count',
  /**
   * `true` on the copy of a dead letter replayed with `force`: the worker sends even to a
   * suppressed recipient. Kept on that copy's retries; a later replay sets or drops it anew.
   */
  suppressionOverride: 'x-suppression-override',
} as const;

/**
 * Headers the broker writes about a message's past (deliveries, dead-letterings). A copy we
 * publish again must not carry them: RabbitMQ drops a message as a dead-letter cycle when its
 * `x-death` already names the queue it is being dead-lettered to (e.g. a replayed
 * `delivery_limit` dead letter expiring from a retry queue back into the work queue).
 */
const BROKER_HISTORY_HEADERS = [
  'x-death',
  'x-delivery-count',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

export function withoutBrokerHistory(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const copy = { ...headers };
  for (const name of BROKER_HISTORY_HEADERS) delete copy[name];
  return copy;
}

/** A count header (`x-attempts`, `x-replay-count`, …) as a number; absent or unreadable is 0. */
export function readCountHeader(headers: Record<string, unknown> | undefined, name: string): number {
  return Number(headers?.[name] ?? 0) || 0;
}

/**
 * The failed sends a message carries (`x-send-failures`), or, for a copy made by an older mailer
 * that lacks it, its `x-attempts`, which counted failed sends then. A replay removes both.
 */
export function readSendFailures(headers: Record<string, unknown> | undefined): number {
  const name =
    headers?.[MailerHeaders.sendFailures] !== undefined ? MailerHeaders.sendFailures : MailerHeaders.attempts;
  return readCountHeader(headers, name);
}

/** `30000` → `30s`, `120000` → `2m`, `250` → `250ms`: readable, and unique per delay. */
export function formatDelay(ms: number): string {
  const units: [number, string][] = [
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** Retry queues are named by their delay: a changed schedule declares new queues instead of clashing. */
export const retryQueueName = (workQueue: string, delayMs: number) => `${workQueue}.retry.${formatDelay(delayMs)}`;
export const holdQueueName = (workQueue: string, delayMs: number) => `${workQueue}.hold.${formatDelay(delayMs)}`;

const DEAD_LETTER_DELIVERY_LIMIT = 1_000_000;

// Dead-lettering between our own queues must not lose messages either (needs reject-publish).
const SAFE_DEAD_LETTERING = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };

/** Where the topology is declared, and what is told about queues kept as they were. */
export interface TopologyDeclaration {
  /** A channel of the connection's setup. */
  channel: Channel;
  /**
   * A channel whose refusal (406) does not restart the connection (`ChannelOpener.scratchChannel`):
   * with a `quorumGroupSize`, each queue is first declared with it there. Absent: declared on
   * `channel` with it, so an existing queue with another group size refuses the topology.
   */
  scratchChannel?: () => Promise<Channel>;
  /** Told when an existing queue keeps its own group size (`current` null: it has none). */
  onGroupSizeKept?: (queue: string, current: number | null, wanted: number) => void;
}

/** Queues already reported as kept with their own group size, by this process (every connection declares them at every connect). */
const reportedGroupSizes = new Set<string>();

/**
 * The declaration of a connection's setup: on `channel`, group sizes probed on scratch channels,
 * and a queue kept with its own size logged at info, once per queue and process.
 */
export function declarationOn(channel: Channel, open: ChannelOpener, logger: Logger): TopologyDeclaration {
  return {
    channel,
    scratchChannel: () => open.scratchChannel(),
    onGroupSizeKept(queue, current, wanted) {
      if (reportedGroupSizes.has(queue)) return;
      reportedGroupSizes.add(queue);
      logger.info(
        { queue, current: current ?? 'none', wanted },
        'queue exists with another x-quorum-initial-group-size; kept as it is: the size only applies when a ' +
          'queue is created (add replicas with `rabbitmq-queues grow <node> all`)',
      );
    },
  };
}

/**
 * Declares the mailer's exchanges and queues; idempotent, run on every (re)connect.
 * - the delivery events' topic exchange (durable; the shop binds its own queues to it);
 * - work queue: quorum, bound to the orders exchange, with a delivery limit, dead-lettering into
 *   the dead-letter queue (through a direct exchange, routed by the work queue's name);
 * - one quorum queue per retry delay (and one for holds) with that TTL, expiring back into the
 *   work queue through the default exchange: delayed retries without the delayed-message plugin.
 * Every queue is a quorum queue, replicated across the cluster: on `t.quorumGroupSize` nodes when
 * set (new queues; an existing one keeps its size, see `declareQuorumQueue`), else RabbitMQ's
 * default. Rejects with the broker's error (406 PRECONDITION_FAILED when a queue exists with other
 * arguments).
 */
export async function declareMailerTopology(target: Channel | TopologyDeclaration, t: MailerTopology): Promise<void> {
  const d: TopologyDeclaration = 'assertQueue' in target ? { channel: target } : target;
  const scratch = scratchChannels(d);
  try {
    await declareAll(d, t, scratch);
  } finally {
    await scratch.close();
  }
}

/** The exchanges, queues and bindings of `declareMailerTopology`, in order. */
async function declareAll(d: TopologyDeclaration, t: MailerTopology, scratch: ScratchChannels): Promise<void> {
  const ch = d.channel;
  await ch.assertExchange(t.ordersExchange, 'topic', { durable: true });
  await ch.assertExchange(t.deadLetterExchange, 'direct', { durable: true });
  await ch.assertExchange(t.mailEventsExchange, 'topic', { durable: true });
  // Listing dead letters fetches and hands them back, which counts as a delivery; RabbitMQ 4
  // gives quorum queues a default delivery limit, and this queue has nowhere to dead-letter to.
  await declareQuorumQueue(d, t, scratch, t.deadLetterQueue, { 'x-delivery-limit': DEAD_LETTER_DELIVERY_LIMIT });
  await ch.bindQueue(t.deadLetterQueue, t.deadLetterExchange, t.workQueue);
  await declareQuorumQueue(d, t, scratch, t.workQueue, {
    'x-delivery-limit': t.deliveryLimit,
    'x-dead-letter-exchange': t.deadLetterExchange,
    'x-dead-letter-routing-key': t.workQueue,
    ...SAFE_DEAD_LETTERING,
  });
  await ch.bindQueue(t.workQueue, t.ordersExchange, t.routingKey);
  const delayQueues = new Map<string, number>();
  for (const ms of t.retryDelaysMs) delayQueues.set(retryQueueName(t.workQueue, ms), ms);
  delayQueues.set(holdQueueName(t.workQueue, t.holdDelayMs), t.holdDelayMs);
  for (const [name, ms] of delayQueues) {
    await declareQuorumQueue(d, t, scratch, name, {
      'x-message-ttl': ms,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': t.workQueue,
      ...SAFE_DEAD_LETTERING,
    });
  }
}

/**
 * Declares one durable quorum queue with `args`. RabbitMQ compares `x-quorum-initial-group-size`
 * like every other argument (3.10 and 4.x: a queue declared without it refuses a declaration
 * with it, and the other way round), although it only matters when the queue is created. So with
 * a group size and a scratch channel, the queue is declared with the size there first; when the
 * broker refuses it for that argument alone, it is declared again with the size the queue has
 * (read from the refusal), and `onGroupSizeKept` is told: queues created before the setting
 * existed, or under another value, keep working. Any other refusal rejects.
 */
async function declareQuorumQueue(
  d: TopologyDeclaration,
  t: MailerTopology,
  scratch: ScratchChannels,
  name: string,
  args: Record<string, unknown>,
): Promise<void> {
  const declare = (ch: Channel, size: number | null | undefined) =>
    ch.assertQueue(name, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        ...args,
        ...(size != null && { 'x-quorum-initial-group-size': size }),
      },
    });
  const wanted = t.quorumGroupSize;
  const probe = wanted === undefined ? null : await scratch.get();
  if (wanted === undefined || !probe) {
    await declare(d.channel, wanted);
    return;
  }
  try {
    await declare(probe, wanted);
  } catch (err) {
    // The refusal closed the scratch channel: the next queue gets a new one.
    scratch.lost();
    const current = currentGroupSizeIn(err);
    if (current === undefined) throw err;
    await declare(d.channel, current);
    d.onGroupSizeKept?.(name, current, wanted);
  }
}

/** One scratch channel for a whole declaration, opened when first needed and again after a refusal closed it. */
interface ScratchChannels {
  /** The open scratch channel, or null when the declaration has no `scratchChannel`. */
  get(): Promise<Channel | null>;
  /** The current one was closed by a refusal. */
  lost(): void;
  /** Closes the one still open; never rejects. */
  close(): Promise<void>;
}

function scratchChannels(d: TopologyDeclaration): ScratchChannels {
  let open: Channel | null = null;
  return {
    async get() {
      if (!d.scratchChannel) return null;
      open ??= await d.scratchChannel();
      return open;
    },
    lost() {
      open = null;
    },
    async close() {
      await open?.close().catch(() => undefined);
      open = null;
    },
  };
}

/**
 * The group size a queue has, as RabbitMQ states it when refusing another one: `… inequivalent arg
 * 'x-quorum-initial-group-size' for queue … received … but current is the value '3' of type
 * 'byte'` → 3, `… but current is none` → null; undefined for any other error. Pure.
 */
export function currentGroupSizeIn(err: unknown): number | null | undefined {
  const message = err instanceof Error ? err.message : '';
  const found = /inequivalent arg 'x-quorum-initial-group-size'.*but current is (none|the value '(\d+)')/.exec(message);
  if (!found) return undefined;
  return found[2] === undefined ? null : Number(found[2]);
}

/** Every queue the topology declares (for tests and operators). */
export function mailerQueueNames(t: MailerTopology): string[] {
  return [
    t.workQueue,
    t.deadLetterQueue,
    ...new Set(t.retryDelaysMs.map((ms) => retryQueueName(t.workQueue, ms))),
    holdQueueName(t.workQueue, t.holdDelayMs),
  ];
}
