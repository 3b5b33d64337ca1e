import type { Channel } from '@order-mail/shared/broker';
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

/**
 * Declares the mailer's exchanges and queues; idempotent, run on every (re)connect.
 * - the delivery events' topic exchange (durable; the shop binds its own queues to it);
 * - work queue: quorum, bound to the orders exchange, with a delivery limit, dead-lettering into
 *   the dead-letter queue (through a direct exchange, routed by the work queue's name);
 * - one quorum queue per retry delay (and one for holds) with that TTL, expiring back into the
 *   work queue through the default exchange: delayed retries without the delayed-message plugin.
 */
export async function declareMailerTopology(ch: Channel, t: MailerTopology): Promise<void> {
  await ch.assertExchange(t.ordersExchange, 'topic', { durable: true });
  await ch.assertExchange(t.deadLetterExchange, 'direct', { durable: true });
  await ch.assertExchange(t.mailEventsExchange, 'topic', { durable: true });
  await ch.assertQueue(t.deadLetterQueue, {
    durable: true,
    // Listing dead letters fetches and hands them back, which counts as a delivery; RabbitMQ 4
    // gives quorum queues a default delivery limit, and this queue has nowhere to dead-letter to.
    arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': DEAD_LETTER_DELIVERY_LIMIT },
  });
  await ch.bindQueue(t.deadLetterQueue, t.deadLetterExchange, t.workQueue);
  await ch.assertQueue(t.workQueue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': t.deliveryLimit,
      'x-dead-letter-exchange': t.deadLetterExchange,
      'x-dead-letter-routing-key': t.workQueue,
      ...SAFE_DEAD_LETTERING,
    },
  });
  await ch.bindQueue(t.workQueue, t.ordersExchange, t.routingKey);
  const delayQueues = new Map<string, number>();
  for (const ms of t.retryDelaysMs) delayQueues.set(retryQueueName(t.workQueue, ms), ms);
  delayQueues.set(holdQueueName(t.workQueue, t.holdDelayMs), t.holdDelayMs);
  for (const [name, ms] of delayQueues) {
    await ch.assertQueue(name, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-message-ttl': ms,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': t.workQueue,
        ...SAFE_DEAD_LETTERING,
      },
    });
  }
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
