import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@order-mail/shared/logger';
import {
  createConfirmedPublisher,
  openBroker,
  type BrokerLink,
  type Channel,
  type ConsumeMessage,
  type ChannelOpener,
} from '@order-mail/shared/broker';
import { declarationOn, declareMailerTopology, type MailerTopology } from '../../adapters/broker/mailer-topology';
import type { MailerMetrics } from '../../adapters/metrics/mailer-metrics';
import { invalidEventOutcome, type DeliveryOutcome } from '../../domain/delivery-outcome';
import { decideAfterInternalError } from '../../domain/internal-errors';
import type { MailWorker } from '../../domain/mail-worker';
import { idsFromBody } from '../../domain/message-ids';
import type { RetrySchedule } from '../../domain/retry-policy';
import { historyFromHeaders } from './copy-headers';
import { MessageSettler } from './message-settler';
import { parseOrderConfirmedMessage } from './parse-event';

export interface OrderConfirmedConsumerOptions {
  amqpUrl: string;
  topology: MailerTopology;
  schedule: RetrySchedule;
  prefetch: number;
  confirmTimeoutMs: number;
  workerId: string;
  worker: MailWorker;
  metrics: Pick<MailerMetrics, 'consumed' | 'settled'>;
  logger: Logger;
  /** Test-only fault injection: see `MessageSettlerOptions.faultPauseBeforeAckMs`. */
  faultPauseBeforeAckMs?: number;
}

/** A consumer of the work queue: created idle, started once the ledger is in place, stopped once. */
export interface OrderConfirmedConsumer {
  /** Connects, declares the topology and consumes; resolves once the connection is being made. */
  start(): Promise<void>;
  /** Consuming now (started, connected, not cancelled or stopping). */
  isReady(): boolean;
  /** Messages being processed now. */
  inFlight(): number;
  /** The connection, for admin work on ad-hoc channels; null until `start` resolved. */
  link(): BrokerLink | null;
  /** Cancels the consumer, lets in-flight messages finish (and be acked), closes the connection. */
  stop(): Promise<void>;
}

/** Pause before handing back a message that could not be settled, so a broker in trouble is not met with a hot loop. */
const REQUEUE_PAUSE_MS = 1000;

/**
 * Consumes order-confirmed events with manual acks. A message is acked only once its fate is
 * safe elsewhere: the email accepted by the SMTP server and recorded, or a copy confirmed by the
 * broker in a retry, hold or dead-letter queue (`MessageSettler`).
 */
export function createOrderConfirmedConsumer(options: OrderConfirmedConsumerOptions): OrderConfirmedConsumer {
  return new ConsumerRun(options);
}

class ConsumerRun implements OrderConfirmedConsumer {
  private readonly settler: MessageSettler;
  private readonly jobs = new Set<Promise<void>>();
  private brokerLink: BrokerLink | null = null;
  private consumeChannel: Channel | null = null;
  private consumerTag: string | null = null;
  private stopping = false;

  constructor(private readonly options: OrderConfirmedConsumerOptions) {
    this.settler = new MessageSettler(options);
  }

  async start(): Promise<void> {
    const { options } = this;
    this.brokerLink = await openBroker({
      url: options.amqpUrl,
      connectionName: `mailer ${options.workerId}`,
      logger: options.logger,
      onDisconnect: () => {
        this.consumeChannel = null;
        this.consumerTag = null;
      },
      setup: (open) => this.setup(open),
    });
  }

  isReady(): boolean {
    return !this.stopping && this.consumerTag !== null && (this.brokerLink?.isConnected() ?? false);
  }

  inFlight(): number {
    return this.jobs.size;
  }

  link(): BrokerLink | null {
    return this.brokerLink;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.consumeChannel && this.consumerTag) {
      await this.consumeChannel
        .cancel(this.consumerTag)
        .catch((err: unknown) => this.options.logger.warn({ err }, 'cancel failed'));
    }
    this.consumerTag = null;
    await Promise.all(this.jobs);
    await this.brokerLink?.close();
  }

  /** Run on every (re)connect: amqplib recovers the connection only, so channels and the consumer are rebuilt here. */
  private async setup(open: ChannelOpener): Promise<void> {
    const { topology, logger } = this.options;
    const ch = await open.channel();
    await declareMailerTopology(declarationOn(ch, open, this.options.logger), topology);
    this.settler.attach(ch, createConfirmedPublisher(await open.confirmChannel(), this.options.confirmTimeoutMs));
    await ch.prefetch(this.options.prefetch);
    this.consumeChannel = ch;
    if (this.stopping) return;
    const { consumerTag } = await ch.consume(
      topology.workQueue,
      (msg) => {
        if (msg === null) {
          // The broker cancelled us (queue deleted or failed over): rebuild from scratch.
          logger.warn({ queue: topology.workQueue }, 'consumer cancelled by the broker, reconnecting');
          this.consumerTag = null;
          ch.close().catch(() => undefined);
          return;
        }
        this.options.metrics.consumed();
        const job = this.handle(ch, msg);
        this.jobs.add(job);
        void job.finally(() => this.jobs.delete(job));
      },
      { noAck: false },
    );
    this.consumerTag = consumerTag;
  }

  private async handle(ch: Channel, msg: ConsumeMessage): Promise<void> {
    try {
      const outcome = await this.decide(msg);
      await this.settler.settle(ch, msg, outcome);
      this.options.metrics.settled(outcome);
    } catch (err) {
      await this.handBack(ch, msg, err);
    }
  }

  /** The message's outcome: parsed here, processed by the worker, internal errors decided by the domain. */
  private async decide(msg: ConsumeMessage): Promise<DeliveryOutcome> {
    const history = historyFromHeaders(msg.properties.headers);
    const parsed = parseOrderConfirmedMessage(msg.content);
    // An invalid event's outcome carries whatever ids its body has, so its dead-letter log line joins to it.
    if (!parsed.ok) return invalidEventOutcome(idsFromBody(msg.content), parsed.message, history);
    const messageLog = this.options.logger.child({ messageId: msg.properties.messageId as unknown });
    try {
      return await this.options.worker.process(parsed.event, history, messageLog);
    } catch (err) {
      const fields = messageLogFields(msg);
      this.options.logger.error(
        { ...fields, err, internalErrors: history.internalErrors + 1 },
        'unexpected error processing message',
      );
      const message = (err as Error)?.message ?? String(err);
      return decideAfterInternalError(idsFromBody(msg.content), message, history, this.options.schedule);
    }
  }

  /** Not even a copy could be made (e.g. no confirm in time): the message goes back to the queue. */
  private async handBack(ch: Channel, msg: ConsumeMessage, err: unknown): Promise<void> {
    const { logger } = this.options;
    if (!this.settler.isOpen(ch)) {
      // Lost with the connection: the broker redelivers the message, and the ledger knows whether it was sent.
      logger.warn(
        { ...messageLogFields(msg), error: (err as Error).message },
        'channel closed before the message was settled; the broker will redeliver it',
      );
      return;
    }
    logger.error({ ...messageLogFields(msg), err }, 'could not settle message; requeueing');
    await sleep(REQUEUE_PAUSE_MS);
    try {
      ch.nack(msg, false, true);
    } catch {
      // The channel closed meanwhile: the broker requeues the message by itself.
    }
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
