import { randomUUID } from 'node:crypto';
import {
  createConfirmedPublisher,
  openBroker,
  type BrokerLink,
  type Channel,
  type ConfirmedPublisher,
  type ConsumeMessage,
  type Logger,
} from '@order-mail/shared';
import {
  declareMailerTopology,
  holdQueueName,
  MailerHeaders,
  readCountHeader,
  retryQueueName,
  withoutBrokerHistory,
  type MailerTopology,
} from '../../adapters/broker/mailer-topology';
import type { MailerMetrics } from '../../adapters/metrics/mailer-metrics';
import type { DeliveryOutcome, FailureInfo, MailWorker } from '../../domain/mail-worker';
import { idsFromBody } from '../../domain/message-ids';
import { decideNextStep, type RetrySchedule } from '../../domain/retry-policy';

export interface OrderConfirmedConsumerOptions {
  amqpUrl: string;
  topology: MailerTopology;
  schedule: RetrySchedule;
  prefetch: number;
  confirmTimeoutMs: number;
  workerId: string;
  worker: MailWorker;
  metrics: Pick<MailerMetrics, 'consumed' | 'settled' | 'internalRetry'>;
  logger: Logger;
  /**
   * Test-only fault injection (off by default): after an email is sent and recorded, wait this
   * long before acking, so a test can kill the worker in exactly that window.
   */
  faultPauseBeforeAckMs?: number;
}

export interface OrderConfirmedConsumer {
  isReady(): boolean;
  /** Messages being processed now. */
  inFlight(): number;
  /** The connection, for admin work on ad-hoc channels. */
  link: BrokerLink;
  /** Cancels the consumer, lets in-flight messages finish (and be acked), closes the connection. */
  stop(): Promise<void>;
}

const MAX_HEADER_TEXT = 1000;
const REQUEUE_PAUSE_MS = 1000;

class ChannelGoneError extends Error {
  constructor() {
    super('the channel this message came on is closed');
    this.name = 'ChannelGoneError';
  }
}

/**
 * The fields of every log line about a message, so that logs join to its dead letter: the AMQP
 * `messageId` (the event id for our publisher's events), and the ids the body has when it parses.
 */
function messageLogFields(msg: ConsumeMessage): Record<string, unknown> {
  const messageId = msg.properties.messageId as unknown;
  return { messageId: messageId === undefined ? undefined : String(messageId), ...idsFromBody(msg.content) };
}

/** The headers that describe a failure, merged into what the message already carried. */
function failureHeaders(msg: ConsumeMessage, failure: FailureInfo, workerId: string): Record<string, unknown> {
  const previous = withoutBrokerHistory(msg.properties.headers);
  const now = new Date().toISOString();
  return {
    ...previous,
    [MailerHeaders.lastError]: failure.message.slice(0, MAX_HEADER_TEXT),
    [MailerHeaders.lastErrorClass]: failure.failureClass,
    [MailerHeaders.firstFailureAt]: previous[MailerHeaders.firstFailureAt] ?? now,
    [MailerHeaders.lastFailureAt]: now,
    [MailerHeaders.workerId]: workerId,
    ...(failure.responseCode !== undefined && { [MailerHeaders.smtpCode]: failure.responseCode }),
    ...(failure.response !== undefined && { [MailerHeaders.smtpResponse]: failure.response.slice(0, MAX_HEADER_TEXT) }),
  };
}

/**
 * Consumes order-confirmed events with manual acks. A message is acked only once its fate is
 * safe elsewhere: the email accepted by the SMTP server and recorded, or a copy confirmed by the
 * broker in a retry, hold or dead-letter queue.
 */
export async function startOrderConfirmedConsumer(
  options: OrderConfirmedConsumerOptions,
): Promise<OrderConfirmedConsumer> {
  const { logger, topology, worker, workerId } = options;
  let consumeChannel: Channel | null = null;
  let consumerTag: string | null = null;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();
  const openChannels = new WeakSet<Channel>();
  // Copies are published on the connection the original came from: once that is gone, the
  // original cannot be acked, the broker redelivers it, and a copy would only double it.
  const publishers = new WeakMap<Channel, ConfirmedPublisher>();

  async function republish(
    ch: Channel,
    msg: ConsumeMessage,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
  ) {
    const publisher = publishers.get(ch);
    if (!publisher || !openChannels.has(ch)) throw new ChannelGoneError();
    await publisher.publish(exchange, routingKey, msg.content, {
      ...msg.properties,
      // Return tracking needs an id; a message published without one gets one here.
      messageId: String(msg.properties.messageId ?? `no-id-${randomUUID()}`),
      headers,
      persistent: true,
    });
  }

  async function settle(ch: Channel, msg: ConsumeMessage, outcome: DeliveryOutcome): Promise<void> {
    const log = logger.child({
      messageId: msg.properties.messageId as unknown,
      orderId: outcome.orderId,
      eventId: outcome.eventId,
      correlationId: outcome.correlationId,
    });
    switch (outcome.action) {
      case 'ack':
        if (options.faultPauseBeforeAckMs) {
          log.warn({ pauseMs: options.faultPauseBeforeAckMs }, 'fault injection: pausing before ack');
          await new Promise((r) => setTimeout(r, options.faultPauseBeforeAckMs));
        }
        ch.ack(msg);
        return;
      case 'retry': {
        const queue = retryQueueName(topology.workQueue, outcome.delayMs);
        await republish(ch, msg, '', queue, {
          ...failureHeaders(msg, outcome.failure, workerId),
          [MailerHeaders.attempts]: outcome.failures,
        });
        ch.ack(msg);
        log.info({ attempts: outcome.failures, delayMs: outcome.delayMs, queue }, 'scheduled for retry');
        return;
      }
      case 'hold': {
        const queue = holdQueueName(topology.workQueue, outcome.delayMs);
        const base = outcome.failure
          ? failureHeaders(msg, outcome.failure, workerId)
          : withoutBrokerHistory(msg.properties.headers);
        await republish(ch, msg, '', queue, { ...base, [MailerHeaders.holdReason]: outcome.reason });
        ch.ack(msg);
        log.info({ reason: outcome.reason, delayMs: outcome.delayMs, queue }, 'held');
        return;
      }
      case 'dead-letter': {
        const headers = {
          ...failureHeaders(msg, outcome.failure, workerId),
          [MailerHeaders.attempts]: outcome.failures,
          [MailerHeaders.deadLetterReason]: outcome.reason,
        };
        try {
          await republish(ch, msg, topology.deadLetterExchange, topology.workQueue, headers);
          ch.ack(msg);
        } catch (err) {
          if (!openChannels.has(ch)) throw err;
          // The queue's own dead-letter exchange still catches it, only without our reason headers.
          log.warn({ err }, 'could not publish the dead letter with its reason; rejecting to the queue DLX');
          ch.nack(msg, false, false);
        }
        log.error(
          {
            reason: outcome.reason,
            attempts: outcome.failures,
            smtpCode: outcome.failure.responseCode,
            error: outcome.failure.message,
          },
          'message dead-lettered',
        );
        return;
      }
    }
  }

  /** An error we did not expect (the database is down, a bug): retried on the schedule, counted apart. */
  async function handleInternalError(ch: Channel, msg: ConsumeMessage, err: unknown): Promise<void> {
    const errorsBefore = readCountHeader(msg.properties.headers, MailerHeaders.internalErrors);
    const step = decideNextStep('transient', errorsBefore, options.schedule);
    const failure: FailureInfo = { failureClass: 'internal', message: (err as Error)?.message ?? String(err) };
    logger.error(
      { ...messageLogFields(msg), err, internalErrors: errorsBefore + 1 },
      'unexpected error processing message',
    );
    if (step.action === 'retry') {
      await republish(ch, msg, '', retryQueueName(topology.workQueue, step.delayMs), {
        ...failureHeaders(msg, failure, workerId),
        [MailerHeaders.internalErrors]: step.failures,
      });
      ch.ack(msg);
      options.metrics.internalRetry(step.failures);
    } else {
      const outcome: DeliveryOutcome = {
        action: 'dead-letter',
        reason: 'internal_error',
        failures: readCountHeader(msg.properties.headers, MailerHeaders.attempts),
        failure,
      };
      await settle(ch, msg, outcome);
      options.metrics.settled(outcome);
    }
  }

  async function handle(ch: Channel, msg: ConsumeMessage): Promise<void> {
    try {
      let outcome: DeliveryOutcome;
      try {
        outcome = await worker.process(
          msg.content,
          {
            failures: readCountHeader(msg.properties.headers, MailerHeaders.attempts),
            replayed: msg.properties.headers?.[MailerHeaders.replayedAt] !== undefined,
          },
          logger.child({ messageId: msg.properties.messageId as unknown }),
        );
      } catch (err) {
        await handleInternalError(ch, msg, err);
        return;
      }
      await settle(ch, msg, outcome);
      options.metrics.settled(outcome);
    } catch (err) {
      if (!openChannels.has(ch)) {
        // Lost with the connection: the broker redelivers the message, and the ledger knows whether it was sent.
        logger.warn(
          { ...messageLogFields(msg), error: (err as Error).message },
          'channel closed before the message was settled; the broker will redeliver it',
        );
        return;
      }
      // Not even a retry could be scheduled (e.g. no confirm in time): hand the message back,
      // after a pause so that a broker in trouble is not met with a hot redelivery loop.
      logger.error({ ...messageLogFields(msg), err }, 'could not settle message; requeueing');
      await new Promise((r) => setTimeout(r, REQUEUE_PAUSE_MS));
      try {
        ch.nack(msg, false, true);
      } catch {
        // The channel closed meanwhile: the broker requeues the message by itself.
      }
    }
  }

  const link: BrokerLink = await openBroker({
    url: options.amqpUrl,
    connectionName: `mailer ${workerId}`,
    logger,
    onDisconnect: () => {
      consumeChannel = null;
      consumerTag = null;
    },
    setup: async (open) => {
      const ch = await open.channel();
      openChannels.add(ch);
      ch.once('close', () => openChannels.delete(ch));
      await declareMailerTopology(ch, topology);
      publishers.set(ch, createConfirmedPublisher(await open.confirmChannel(), options.confirmTimeoutMs));
      await ch.prefetch(options.prefetch);
      consumeChannel = ch;
      if (stopping) return;
      const { consumerTag: tag } = await ch.consume(
        topology.workQueue,
        (msg) => {
          if (msg === null) {
            // The broker cancelled us (queue deleted or failed over): rebuild from scratch.
            logger.warn({ queue: topology.workQueue }, 'consumer cancelled by the broker, reconnecting');
            consumerTag = null;
            ch.close().catch(() => undefined);
            return;
          }
          options.metrics.consumed();
          const job = handle(ch, msg);
          inFlight.add(job);
          void job.finally(() => inFlight.delete(job));
        },
        { noAck: false },
      );
      consumerTag = tag;
    },
  });

  return {
    link,
    isReady: () => !stopping && consumerTag !== null && link.isConnected(),
    inFlight: () => inFlight.size,
    async stop() {
      stopping = true;
      if (consumeChannel && consumerTag) {
        await consumeChannel.cancel(consumerTag).catch((err: unknown) => logger.warn({ err }, 'cancel failed'));
      }
      consumerTag = null;
      await Promise.all(inFlight);
      await link.close();
    },
  };
}
