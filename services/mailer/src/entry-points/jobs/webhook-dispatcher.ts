import type { Logger } from '@order-mail/shared/logger';
import type { WebhookSender } from '../../adapters/webhooks/webhook-sender';
import {
  decideWebhookAttempt,
  type ClaimedWebhook,
  type WebhookOutcome,
  type WebhookQueue,
} from '../../domain/webhooks';
import { createBackgroundJob } from './wakeable-pause';

/** How often an idle dispatcher looks for due deliveries (the relay wakes it when it adds some). */
const POLL_INTERVAL_MS = 1000;
/** How long the dispatcher waits after PostgreSQL failed it before trying again. */
const ERROR_PAUSE_MS = 2000;
/**
 * A claim's lease beyond WEBHOOK_TIMEOUT_MS: time to record the outcome. A mailer that dies
 * mid-POST leaves the delivery due again after timeout + this.
 */
const LEASE_MARGIN_MS = 30_000;

export interface WebhookDispatcherOptions {
  queue: WebhookQueue;
  sender: WebhookSender;
  /** WEBHOOK_RETRY_DELAYS. */
  retryDelaysMs: readonly number[];
  /** WEBHOOK_CONCURRENCY: POSTs under way at once. */
  concurrency: number;
  /** WEBHOOK_TIMEOUT_MS (the sender enforces it; the lease covers it). */
  timeoutMs: number;
  /** False until the ledger's migrations are applied. */
  ready: () => boolean;
  logger: Logger;
  /** Counts each attempt by outcome, with its duration in seconds. */
  onAttempt?: (outcome: WebhookOutcome, seconds: number) => void;
}

export interface WebhookDispatcher {
  /** Starts the loop (once). */
  start(): void;
  /** Looks for due deliveries now instead of at the next poll: the relay just added some. */
  wake(): void;
  /**
   * Stops claiming and waits for the POSTs under way (each ends within WEBHOOK_TIMEOUT_MS) and
   * their records; resolves once the loop has ended.
   */
  stop(): Promise<void>;
}

/**
 * Delivers webhooks: claims due deliveries (up to `concurrency` under way), POSTs each with
 * `sender`, applies `decideWebhookAttempt` and records the attempt. It runs apart from sending
 * email: the consumer never waits for it, and a receiver that is slow or down only fills
 * `webhook_deliveries` (its rows wait for their next attempt) while emails go out as before.
 * Runs on every mailer; the queue's leases keep two from POSTing one delivery at once. At least
 * once: a mailer that stops between the receiver's answer and the record POSTs it again later.
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const inFlight = new Set<Promise<void>>();
  // Pauses ended by wake, stop or a POST finishing (a slot is free), also when that comes mid-claim.
  const job = createBackgroundJob({
    round,
    async failed(err) {
      options.logger.warn({ err }, 'webhook deliveries not read; trying again');
      return ERROR_PAUSE_MS;
    },
    async finish() {
      await Promise.all(inFlight);
    },
  });

  function attempt(claimed: ClaimedWebhook): void {
    const running = deliver(options, claimed)
      .catch((err: unknown) => {
        options.logger.warn({ err, eventId: claimed.event.eventId }, 'webhook attempt not recorded; it is made again');
      })
      .finally(() => {
        inFlight.delete(running);
        job.wake();
      });
    inFlight.add(running);
  }

  /** Claims what the free slots take; resolves with how long to wait before the next round. */
  async function round(): Promise<number> {
    const free = options.concurrency - inFlight.size;
    if (!options.ready() || free <= 0) return POLL_INTERVAL_MS;
    const claimed = await options.queue.claim(free, options.timeoutMs + LEASE_MARGIN_MS);
    claimed.forEach(attempt);
    // More may be due: every POST that ends cuts the pause short, so free slots are refilled at once.
    return POLL_INTERVAL_MS;
  }

  return { start: job.start, wake: job.wake, stop: job.stop };
}

/** One attempt: POST, decide, record, count, log (never the recipient). */
async function deliver(options: WebhookDispatcherOptions, claimed: ClaimedWebhook): Promise<void> {
  const sent = await options.sender.send(claimed.event);
  const decision = decideWebhookAttempt(sent.result, claimed.attempt, options.retryDelaysMs);
  await options.queue.record({
    deliveryId: claimed.id,
    attempt: claimed.attempt,
    url: options.sender.url,
    statusCode: sent.statusCode,
    error: sent.error,
    durationMs: sent.durationMs,
    responseExcerpt: sent.responseExcerpt,
    decision,
  });
  options.onAttempt?.(decision.outcome, sent.durationMs / 1000);
  const fields = {
    eventId: claimed.event.eventId,
    type: claimed.event.type,
    orderId: claimed.event.orderId,
    attempt: claimed.attempt,
    statusCode: sent.statusCode,
    error: sent.error,
    durationMs: Math.round(sent.durationMs),
  };
  if (decision.outcome === 'delivered') options.logger.debug(fields, 'webhook delivered');
  if (decision.outcome === 'retrying') {
    options.logger.warn({ ...fields, retryInMs: decision.delayMs }, 'webhook not taken; retrying later');
  }
  if (decision.outcome === 'failed') {
    options.logger.error({ ...fields, reason: decision.reason }, 'webhook given up; redeliver it from the admin API');
  }
}
