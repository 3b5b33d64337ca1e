import {
  AppError,
  createConfirmedPublisher,
  ErrorCodes,
  type BrokerLink,
  type GetMessage,
  type Logger,
} from '@order-mail/shared';
import { MailerHeaders, readCountHeader, withoutBrokerHistory } from './mailer-topology';

export interface DeadLetter {
  messageId: string | null;
  orderId: string | null;
  correlationId: string | null;
  /** Our reason header; for messages the broker dead-lettered itself, `delivery_limit` and the like. */
  reason: string;
  error: string | null;
  smtpCode: number | null;
  smtpResponse: string | null;
  attempts: number;
  firstFailureAt: string | null;
  lastFailureAt: string | null;
  workerId: string | null;
}

export interface ReplayFilter {
  reason?: string;
  smtpCode?: number;
  all?: boolean;
}

export interface ReplayResult {
  dryRun: boolean;
  scanned: number;
  matched: number;
  moved: number;
  messages: DeadLetter[];
}

export interface DeadLetterStore {
  /** Looks at the dead letters without removing them: they are fetched unacked, then handed back. */
  list(page: { offset: number; limit: number }): Promise<{ total: number; messages: DeadLetter[] }>;
  /** Moves matching dead letters to the work queue with their attempt count reset. */
  replay(filter: ReplayFilter, options: { dryRun: boolean; limit: number }): Promise<ReplayResult>;
}

const RETURN_WAIT_MS = 2000;

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

export function describeDeadLetter(msg: GetMessage): DeadLetter {
  const headers = msg.properties.headers ?? {};
  let orderId: string | null = null;
  try {
    const body = JSON.parse(msg.content.toString('utf8')) as { order?: { orderId?: unknown } };
    orderId = typeof body.order?.orderId === 'string' ? body.order.orderId : null;
  } catch {
    // Not JSON: that is usually why it is here.
  }
  const smtpCode = headers[MailerHeaders.smtpCode];
  return {
    messageId: text(msg.properties.messageId),
    orderId,
    correlationId: text(msg.properties.correlationId),
    // Ours, else the broker's latest dead-lettering (`x-death` lists the newest first), e.g. `delivery_limit`.
    reason:
      text(headers[MailerHeaders.deadLetterReason]) ??
      text((headers['x-death'] as { reason?: unknown }[] | undefined)?.[0]?.reason) ??
      text(headers['x-first-death-reason']) ??
      'unknown',
    error: text(headers[MailerHeaders.lastError]),
    smtpCode: typeof smtpCode === 'number' ? smtpCode : null,
    smtpResponse: text(headers[MailerHeaders.smtpResponse]),
    attempts: readCountHeader(headers, MailerHeaders.attempts),
    firstFailureAt: text(headers[MailerHeaders.firstFailureAt]),
    lastFailureAt: text(headers[MailerHeaders.lastFailureAt]),
    workerId: text(headers[MailerHeaders.workerId]),
  };
}

export function matchesFilter(letter: DeadLetter, filter: ReplayFilter): boolean {
  if (filter.all) return true;
  if (filter.reason !== undefined && letter.reason !== filter.reason) return false;
  if (filter.smtpCode !== undefined && letter.smtpCode !== filter.smtpCode) return false;
  return filter.reason !== undefined || filter.smtpCode !== undefined;
}

/** Headers that describe past failures; a replayed message starts with a clean slate. */
const FAILURE_HEADERS = new Set<string>([
  MailerHeaders.sendFailures,
  MailerHeaders.attempts,
  MailerHeaders.internalErrors,
  MailerHeaders.lastError,
  MailerHeaders.lastErrorClass,
  MailerHeaders.firstFailureAt,
  MailerHeaders.lastFailureAt,
  MailerHeaders.smtpCode,
  MailerHeaders.smtpResponse,
  MailerHeaders.workerId,
  MailerHeaders.holdReason,
  MailerHeaders.deadLetterReason,
]);

export function createDeadLetterStore(options: {
  link: BrokerLink;
  deadLetterQueue: string;
  workQueue: string;
  replayRatePerSecond: number;
  confirmTimeoutMs: number;
  logger: Logger;
}): DeadLetterStore {
  const { link, logger } = options;
  let replaying = false;

  // Channel operations would wait for a reconnect; an operator should hear at once instead.
  const requireBroker = () => {
    if (!link.isConnected()) throw new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker');
  };
  // A connection lost half-way is the broker's unavailability too, not an internal error.
  const asBrokerError = (err: unknown): unknown =>
    link.isConnected() && !/closed/i.test((err as Error)?.message ?? '')
      ? err
      : new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Lost the broker connection', { cause: err });

  /**
   * Messages fetched without an ack go back to the queue when their channel closes, but a quorum
   * queue counts them again only a moment later. Waiting for that keeps a list followed at once
   * by a replay (or a dry run by the real one) from missing dead letters.
   */
  async function awaitReturned(expectedReady: number): Promise<void> {
    const ch = await link.openChannel();
    try {
      const deadline = Date.now() + RETURN_WAIT_MS;
      while (Date.now() < deadline) {
        if ((await ch.checkQueue(options.deadLetterQueue)).messageCount >= expectedReady) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      logger.warn({ expectedReady }, 'dead letters handed back are not all counted again yet');
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async function replayOnce(filter: ReplayFilter, dryRun: boolean, limit: number): Promise<ReplayResult> {
    const ch = await link.openChannel();
    const pub = await link.openConfirmChannel().catch(async (err: unknown) => {
      await ch.close().catch(() => undefined);
      throw err;
    });
    const publisher = createConfirmedPublisher(pub, options.confirmTimeoutMs);
    const result: ReplayResult = { dryRun, scanned: 0, matched: 0, moved: 0, messages: [] };
    const pauseMs = 1000 / options.replayRatePerSecond;
    let messageCount = 0;
    try {
      ({ messageCount } = await ch.checkQueue(options.deadLetterQueue));
      // Only what was there when we started: messages dead-lettered again meanwhile wait for the next replay.
      while (result.scanned < messageCount && result.matched < limit) {
        const msg = await ch.get(options.deadLetterQueue, { noAck: false });
        if (!msg) break;
        result.scanned += 1;
        const letter = describeDeadLetter(msg);
        if (!matchesFilter(letter, filter)) continue;
        result.matched += 1;
        result.messages.push(letter);
        if (dryRun) continue;
        const headers = Object.fromEntries(
          Object.entries(withoutBrokerHistory(msg.properties.headers)).filter(([k]) => !FAILURE_HEADERS.has(k)),
        );
        headers[MailerHeaders.replayedAt] = new Date().toISOString();
        headers[MailerHeaders.replayCount] = readCountHeader(msg.properties.headers, MailerHeaders.replayCount) + 1;
        await publisher.publish('', options.workQueue, msg.content, {
          ...msg.properties,
          messageId: letter.messageId ?? `no-id-${result.scanned}`,
          headers,
          persistent: true,
        });
        ch.ack(msg);
        result.moved += 1;
        logger.info(
          { orderId: letter.orderId, messageId: letter.messageId, reason: letter.reason, smtpCode: letter.smtpCode },
          'dead letter replayed to the work queue',
        );
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      logger.info(
        { filter, dryRun, scanned: result.scanned, matched: result.matched, moved: result.moved },
        'replay finished',
      );
    } finally {
      // Unmatched (and, in a dry run, all) fetched messages go back to the queue with the channel.
      await ch.close().catch(() => undefined);
      await pub.close().catch(() => undefined);
    }
    await awaitReturned(messageCount - result.moved);
    return result;
  }

  return {
    async list({ offset, limit }) {
      requireBroker();
      const ch = await link.openChannel();
      try {
        const { messageCount: total } = await ch.checkQueue(options.deadLetterQueue);
        const messages: DeadLetter[] = [];
        // Unacked gets are returned to the queue when the channel closes.
        for (let i = 0; i < Math.min(total, offset + limit); i++) {
          const msg = await ch.get(options.deadLetterQueue, { noAck: false });
          if (!msg) break;
          if (i >= offset) messages.push(describeDeadLetter(msg));
        }
        await ch.close().catch(() => undefined);
        await awaitReturned(total);
        return { total, messages };
      } catch (err) {
        throw asBrokerError(err);
      } finally {
        await ch.close().catch(() => undefined);
      }
    },

    async replay(filter, { dryRun, limit }) {
      requireBroker();
      if (replaying)
        throw new AppError(ErrorCodes.CONFLICT, 'A replay is already running; try again when it has finished');
      replaying = true;
      try {
        return await replayOnce(filter, dryRun, limit);
      } catch (err) {
        throw asBrokerError(err);
      } finally {
        replaying = false;
      }
    },
  };
}
