import {
  openBroker,
  type BrokerLink,
  type Channel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Logger,
} from '@order-mail/shared';
import { declareMailerTopology, DeadLetterHeaders, type MailerTopology } from '../../adapters/broker/mailer-topology';
import type { DeliveryOutcome, MailWorker } from '../../domain/mail-worker';

export interface OrderConfirmedConsumerOptions {
  amqpUrl: string;
  topology: MailerTopology;
  prefetch: number;
  /** How long a transiently failed message is held before it goes back to the queue. */
  retryDelayMs: number;
  workerId: string;
  worker: MailWorker;
  logger: Logger;
}

export interface OrderConfirmedConsumer {
  isReady(): boolean;
  /** Cancels the consumer, lets in-flight messages finish (and be acked), closes the connection. */
  stop(): Promise<void>;
}

/** Consumes order-confirmed events with manual acks; acks only after the SMTP server accepted the email. */
export async function startOrderConfirmedConsumer(
  options: OrderConfirmedConsumerOptions,
): Promise<OrderConfirmedConsumer> {
  const { logger, topology, worker } = options;
  let consumeChannel: Channel | null = null;
  let publishChannel: ConfirmChannel | null = null;
  let consumerTag: string | null = null;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();
  const wakeUps = new Set<() => void>();

  const sleepUnlessStopping = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakeUps.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakeUps.add(done);
    });

  /** Publishes a copy to the dead-letter exchange with the reason in headers, confirmed. */
  function publishDeadLetter(msg: ConsumeMessage, outcome: Extract<DeliveryOutcome, { action: 'dead-letter' }>) {
    const ch = publishChannel;
    if (!ch) return Promise.reject(new Error('no publish channel'));
    const headers = {
      ...msg.properties.headers,
      [DeadLetterHeaders.reason]: outcome.reason,
      [DeadLetterHeaders.detail]: outcome.detail.slice(0, 1000),
      [DeadLetterHeaders.failedAt]: new Date().toISOString(),
      [DeadLetterHeaders.workerId]: options.workerId,
      ...(outcome.failure?.responseCode !== undefined && {
        [DeadLetterHeaders.smtpCode]: outcome.failure.responseCode,
      }),
      ...(outcome.failure?.response !== undefined && { [DeadLetterHeaders.smtpResponse]: outcome.failure.response }),
    };
    return new Promise<void>((resolve, reject) => {
      ch.publish(
        topology.deadLetterExchange,
        topology.workQueue,
        msg.content,
        { ...msg.properties, headers, persistent: true },
        (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
      );
    });
  }

  async function settle(ch: Channel, msg: ConsumeMessage, outcome: DeliveryOutcome): Promise<void> {
    const log = logger.child({ orderId: outcome.orderId, eventId: outcome.eventId ?? msg.properties.messageId });
    switch (outcome.action) {
      case 'ack':
        ch.ack(msg);
        return;
      case 'dead-letter':
        try {
          await publishDeadLetter(msg, outcome);
          ch.ack(msg);
        } catch (err) {
          // The queue's own dead-letter exchange still catches it, only without our reason headers.
          log.warn({ err }, 'could not publish dead letter with reason, rejecting to the queue DLX');
          ch.nack(msg, false, false);
        }
        log.error({ reason: outcome.reason, detail: outcome.detail }, 'message dead-lettered');
        return;
      case 'retry':
        await sleepUnlessStopping(options.retryDelayMs);
        ch.nack(msg, false, true);
        log.info({ reason: outcome.reason }, 'message requeued for retry');
        return;
    }
  }

  async function handle(ch: Channel, msg: ConsumeMessage): Promise<void> {
    try {
      const outcome = await worker.process(msg.content);
      await settle(ch, msg, outcome);
    } catch (err) {
      // A bug, not a message problem: hand the message back and let the delivery limit guard us.
      logger.error({ err, messageId: msg.properties.messageId }, 'unexpected error processing message');
      try {
        ch.nack(msg, false, true);
      } catch (nackErr) {
        logger.warn({ err: nackErr }, 'could not nack; the broker will redeliver');
      }
    }
  }

  const link: BrokerLink = await openBroker({
    url: options.amqpUrl,
    connectionName: `mailer ${options.workerId}`,
    logger,
    onDisconnect: () => {
      consumeChannel = null;
      publishChannel = null;
      consumerTag = null;
    },
    setup: async (open) => {
      const ch = await open.channel();
      await declareMailerTopology(ch, topology);
      publishChannel = await open.confirmChannel();
      await ch.prefetch(options.prefetch);
      consumeChannel = ch;
      if (stopping) return;
      const { consumerTag: tag } = await ch.consume(
        topology.workQueue,
        (msg) => {
          if (msg === null) {
            // The broker cancelled us (queue deleted or failed over): rebuild from scratch.
            logger.warn({ queue: topology.workQueue }, 'consumer cancelled by the broker, reconnecting');
            ch.close().catch(() => undefined);
            return;
          }
          const job = handle(ch, msg).catch(() => undefined);
          inFlight.add(job);
          void job.finally(() => inFlight.delete(job));
        },
        { noAck: false },
      );
      consumerTag = tag;
    },
  });

  return {
    isReady: () => !stopping && consumerTag !== null && link.isConnected(),
    async stop() {
      stopping = true;
      if (consumeChannel && consumerTag) {
        await consumeChannel.cancel(consumerTag).catch((err: unknown) => logger.warn({ err }, 'cancel failed'));
      }
      consumerTag = null;
      for (const wake of [...wakeUps]) wake();
      await Promise.all(inFlight);
      await link.close();
    },
  };
}
