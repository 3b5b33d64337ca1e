import type { ConfirmChannel } from 'amqplib';
import { ErrorCodes, isAppError, type MailEvent, type MailEventType } from '@order-mail/shared/contract';
import { createConfirmedPublisher, type BrokerLink, type ConfirmedPublisher } from '@order-mail/shared/broker';
import type { Logger } from '@order-mail/shared/logger';
import { toMailEvent, type Outbox, type OutboxLease } from '../../domain/mail-events';
import { createBackgroundJob } from './wakeable-pause';

/** Most events read and published in one round. */
const BATCH_SIZE = 200;
/** How often an idle relay looks at the outbox (a write in this process wakes it at once). */
const POLL_INTERVAL_MS = 500;
/**
 * How soon a woken relay looks: events written within this time go out in one batch (one read,
 * one delete, one round of confirms) instead of one round each.
 */
const WAKE_DELAY_MS = 50;
/** How often a mailer that is not the relay tries to become it. */
const LEAD_RETRY_MS = 2000;

export interface OutboxRelayOptions {
  outbox: Outbox;
  /** The broker connection to publish on (the consumer's); null until it exists. */
  link: () => BrokerLink | null;
  /** `MAIL_EVENTS_EXCHANGE` (declared with the mailer's topology). */
  exchange: string;
  confirmTimeoutMs: number;
  /** False until the ledger's migrations are applied (the outbox table may not exist yet). */
  ready: () => boolean;
  logger: Logger;
  /** Counts each published event; `routed` is false when no queue was bound to take it. */
  onPublished?: (type: MailEventType, routed: boolean) => void;
  /** Called after a batch left the outbox (with webhooks on, its webhook deliveries now exist). */
  onRemoved?: () => void;
  /** Test-only fault injection: pause between reading a batch and publishing it. */
  faultPauseMs?: number;
}

export interface OutboxRelay {
  /** Starts the loop (once). */
  start(): void;
  /** Looks at the outbox soon (within WAKE_DELAY_MS) instead of at the next poll: the ledger just wrote events. */
  wake(): void;
  /** Finishes the batch under way, gives up the lease; resolves once the loop has ended. */
  stop(): Promise<void>;
}

/**
 * Relays the outbox to RabbitMQ: one mailer at a time (the one holding the outbox's lease)
 * publishes the waiting events in id order to `exchange`, routing key = the event's type,
 * persistent JSON with publisher confirms, and deletes them once every one of the batch is
 * confirmed. At least once: a batch that fails (broker away, a nack, a timeout) is published again
 * whole, so a consumer may see an event twice (it deduplicates on `eventId`). Events of one order
 * are published in the order they were written. An event no queue is bound to is confirmed by
 * RabbitMQ and dropped; it counts as published with `routed` false.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const state: RelayState = { lease: null, out: null, stopping: () => job.stopping() };
  // Pauses shortened to WAKE_DELAY_MS by a wake (also one that comes mid-round), ended by stop.
  const job = createBackgroundJob({
    wakeDelayMs: WAKE_DELAY_MS,
    round: () => round(options, state),
    async failed(err) {
      options.logger.warn({ err }, 'delivery events not relayed yet; trying again');
      await dropChannel(state);
      if (state.lease && !state.lease.holds()) await giveUpLease(state);
      return POLL_INTERVAL_MS;
    },
    async finish() {
      await dropChannel(state);
      await giveUpLease(state);
    },
  });
  return { start: job.start, wake: job.wake, stop: job.stop };
}

/** A confirm channel and the one publisher on it (each publisher listens to the channel's returns). */
type Publishing = { channel: ConfirmChannel; publisher: ConfirmedPublisher };

type RelayState = {
  lease: OutboxLease | null;
  out: Publishing | null;
  /** True once the relay is asked to stop. */
  stopping: () => boolean;
};

/** One round of the loop; resolves with how long to wait before the next (0: at once). */
async function round(options: OutboxRelayOptions, state: RelayState): Promise<number> {
  const link = options.link();
  if (!options.ready() || !link?.isConnected()) {
    // A relay that cannot publish lets another mailer (whose broker is reachable) take over; its
    // channel died with the connection (amqplib does not reopen channels), so it is dropped too.
    await dropChannel(state);
    await giveUpLease(state);
    return POLL_INTERVAL_MS;
  }
  if (state.lease && !state.lease.holds()) await giveUpLease(state);
  state.lease ??= await options.outbox.tryLead();
  if (!state.lease) return LEAD_RETRY_MS;
  const entries = await state.lease.next(BATCH_SIZE);
  if (entries.length === 0) return POLL_INTERVAL_MS;
  if (options.faultPauseMs) {
    options.logger.warn({ pauseMs: options.faultPauseMs }, 'fault injection: pausing before relaying events');
    await new Promise((r) => setTimeout(r, options.faultPauseMs));
    if (state.stopping()) return 0;
  }
  state.out ??= await openPublishing(link, options);
  // Built once: published, then (with webhooks on) stored as the webhook deliveries' events.
  const events = entries.map(toMailEvent);
  await publishAll(options, state.out.publisher, events);
  await state.lease.remove(entries, events);
  options.onRemoved?.();
  return entries.length === BATCH_SIZE ? 0 : POLL_INTERVAL_MS;
}

/** Publishes `events` in order on one channel and waits for every confirm; rejects if any fails. */
async function publishAll(options: OutboxRelayOptions, publisher: ConfirmedPublisher, events: MailEvent[]) {
  const results = await Promise.allSettled(
    events.map((event) =>
      publisher.publish(options.exchange, event.type, Buffer.from(JSON.stringify(event)), {
        messageId: event.eventId,
        type: event.type,
        persistent: true,
        contentType: 'application/json',
        timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
      }),
    ),
  );
  const failed = results.find(
    (r): r is PromiseRejectedResult => r.status === 'rejected' && !isAppError(r.reason, ErrorCodes.PUBLISH_UNROUTABLE),
  );
  if (failed) throw failed.reason;
  results.forEach((r, i) => options.onPublished?.(events[i].type, r.status === 'fulfilled'));
}

/** A confirm channel with its publisher, kept for every batch until it fails. */
async function openPublishing(link: BrokerLink, options: OutboxRelayOptions): Promise<Publishing> {
  const channel = await link.openConfirmChannel();
  // Every channel needs an error listener: an unhandled 'error' would crash the process.
  channel.on('error', (err: Error) => options.logger.warn({ err }, 'delivery-event channel failed'));
  return { channel, publisher: createConfirmedPublisher(channel, options.confirmTimeoutMs) };
}

async function dropChannel(state: RelayState): Promise<void> {
  const out = state.out;
  state.out = null;
  await out?.channel.close().catch(() => undefined);
}

async function giveUpLease(state: RelayState): Promise<void> {
  const lease = state.lease;
  state.lease = null;
  await lease?.release();
}
