import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { maskEmailsIn } from '@order-mail/shared/diagnostics';
import type { Logger } from '@order-mail/shared/logger';
import type { Channel, ConfirmedPublisher, ConsumeMessage } from '@order-mail/shared/broker';
import { holdQueueName, retryQueueName, type MailerTopology } from '../../adapters/broker/mailer-topology';
import type { CopyCounts, DeliveryOutcome } from '../../domain/delivery-outcome';
import { copyHeaders } from './copy-headers';

/** Raised when a copy cannot be published because the original's channel is gone. */
class ChannelGoneError extends Error {
  constructor() {
    super('the channel this message came on is closed');
    this.name = 'ChannelGoneError';
  }
}

export interface MessageSettlerOptions {
  topology: MailerTopology;
  workerId: string;
  logger: Logger;
  /**
   * Test-only fault injection (off by default): after an email is sent and recorded, wait this
   * long before acking, so a test can kill the worker in exactly that window.
   */
  faultPauseBeforeAckMs?: number;
}

/**
 * Applies a message's outcome: ack, or publish a copy (to a retry or hold queue, or the
 * dead-letter exchange) and ack the original only once the broker confirmed the copy. Copies are
 * published on the connection the original came from: once that is gone, the original cannot be
 * acked, the broker redelivers it, and a copy would only double it.
 */
export class MessageSettler {
  private readonly publishers = new WeakMap<Channel, ConfirmedPublisher>();
  private readonly openChannels = new WeakSet<Channel>();

  constructor(private readonly options: MessageSettlerOptions) {}

  /** Registers a consuming channel and the confirm publisher its copies go out on, until it closes. */
  attach(ch: Channel, publisher: ConfirmedPublisher): void {
    this.openChannels.add(ch);
    this.publishers.set(ch, publisher);
    ch.once('close', () => this.openChannels.delete(ch));
  }

  /** Whether messages from `ch` can still be settled (false once the channel closed). */
  isOpen(ch: Channel): boolean {
    return this.openChannels.has(ch);
  }

  /**
   * Settles `msg` as `outcome` says. Rejects when the channel is or becomes closed (ChannelGoneError,
   * or amqplib's error from the publish or the ack; `isOpen` tells: the broker redelivers the
   * message), or with the publisher's error when a retry or hold copy was not confirmed (the
   * original is not acked; after a confirm timeout the broker may still hold the copy, and the
   * ledger keeps the order to one email). A dead letter whose copy fails on an open channel is
   * rejected to the work queue's own dead-letter exchange instead.
   */
  async settle(ch: Channel, msg: ConsumeMessage, outcome: DeliveryOutcome): Promise<void> {
    const log = this.options.logger.child({
      messageId: msg.properties.messageId as unknown,
      orderId: outcome.orderId,
      eventId: outcome.eventId,
      correlationId: outcome.correlationId,
    });
    if (outcome.action === 'ack') {
      await this.ack(ch, msg, log);
      return;
    }
    const headers = copyHeaders(msg.properties.headers, outcome, this.options.workerId, new Date());
    const { workQueue, deadLetterExchange } = this.options.topology;
    switch (outcome.action) {
      case 'retry': {
        const queue = retryQueueName(workQueue, outcome.delayMs);
        await this.copyThenAck(ch, msg, '', queue, headers);
        log.info(
          { ...countFields(outcome.counts), retry: outcome.retryNumber, delayMs: outcome.delayMs, queue },
          'scheduled for retry',
        );
        return;
      }
      case 'hold': {
        const queue = holdQueueName(workQueue, outcome.delayMs);
        await this.copyThenAck(ch, msg, '', queue, headers);
        log.info({ reason: outcome.reason, delayMs: outcome.delayMs, queue }, 'held');
        return;
      }
      case 'dead-letter':
        await this.deadLetter(ch, msg, deadLetterExchange, workQueue, headers, log);
        log.error(
          {
            reason: outcome.reason,
            ...countFields(outcome.counts),
            smtpCode: outcome.failure.responseCode,
            // The reply may quote the recipient: logs never carry a whole address.
            error: maskEmailsIn(outcome.failure.message),
          },
          'message dead-lettered',
        );
        return;
    }
  }

  private async ack(ch: Channel, msg: ConsumeMessage, log: Logger): Promise<void> {
    const pauseMs = this.options.faultPauseBeforeAckMs;
    if (pauseMs) {
      log.warn({ pauseMs }, 'fault injection: pausing before ack');
      await sleep(pauseMs);
    }
    ch.ack(msg);
  }

  private async deadLetter(
    ch: Channel,
    msg: ConsumeMessage,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
    log: Logger,
  ): Promise<void> {
    try {
      await this.copyThenAck(ch, msg, exchange, routingKey, headers);
    } catch (err) {
      if (!this.isOpen(ch)) throw err;
      // The queue's own dead-letter exchange still catches it, only without our reason headers.
      log.warn({ err }, 'could not publish the dead letter with its reason; rejecting to the queue DLX');
      ch.nack(msg, false, false);
    }
  }

  private async copyThenAck(
    ch: Channel,
    msg: ConsumeMessage,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
  ): Promise<void> {
    const publisher = this.publishers.get(ch);
    if (!publisher || !this.isOpen(ch)) throw new ChannelGoneError();
    await publisher.publish(exchange, routingKey, msg.content, {
      ...msg.properties,
      // Return tracking needs an id; a message published without one gets one here.
      messageId: String(msg.properties.messageId ?? `no-id-${randomUUID()}`),
      headers,
      persistent: true,
    });
    ch.ack(msg);
  }
}

/** A copy's counts as log fields, named as the headers are: `attempts` is the ledger's count. */
function countFields(counts: CopyCounts): Record<string, number | undefined> {
  return { attempts: counts.ledgerAttempts, sendFailures: counts.sendFailures, internalErrors: counts.internalErrors };
}
