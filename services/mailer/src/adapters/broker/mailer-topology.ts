import type { Channel } from '@order-mail/shared';

export interface MailerTopology {
  ordersExchange: string;
  routingKey: string;
  workQueue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  /** Deliveries of one message before the broker dead-letters it (a crash-loop guard). */
  deliveryLimit: number;
}

/** Headers the mailer puts on every message it dead-letters, so an operator can see why. */
export const DeadLetterHeaders = {
  reason: 'x-dead-letter-reason',
  detail: 'x-dead-letter-detail',
  smtpCode: 'x-smtp-code',
  smtpResponse: 'x-smtp-response',
  failedAt: 'x-failed-at',
  workerId: 'x-worker-id',
} as const;

/**
 * Declares the mailer's exchanges and queues; idempotent, run on every (re)connect.
 * The work queue is a quorum queue (replicated, with a delivery limit) and dead-letters into a
 * durable queue of its own through a direct exchange, routed by the work queue's name.
 */
export async function declareMailerTopology(ch: Channel, t: MailerTopology): Promise<void> {
  await ch.assertExchange(t.ordersExchange, 'topic', { durable: true });
  await ch.assertExchange(t.deadLetterExchange, 'direct', { durable: true });
  await ch.assertQueue(t.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(t.deadLetterQueue, t.deadLetterExchange, t.workQueue);
  await ch.assertQueue(t.workQueue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': t.deliveryLimit,
      'x-dead-letter-exchange': t.deadLetterExchange,
      'x-dead-letter-routing-key': t.workQueue,
      // Broker-side dead-lettering (delivery limit) must not lose messages either.
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
  });
  await ch.bindQueue(t.workQueue, t.ordersExchange, t.routingKey);
}
