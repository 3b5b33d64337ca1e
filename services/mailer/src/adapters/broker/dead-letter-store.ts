import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import { createConfirmedPublisher, type BrokerLink, type GetMessage } from '@order-mail/shared/broker';
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
  /** Moves matching dead letters to the work queue with their failure headers dropped (the retry schedule starts again; the ledger's attempts go on). */
  replay(filter: ReplayFilter, options: { dryRun: boolean; limit: number }): Promise<ReplayResult>;
}

const RETURN_WAIT_MS = 2000;

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/**
 * What a dead letter says about itself, read from its headers (the mailer's, else the broker's
 * `x-death`) and its body's `order.orderId`. A body that is not JSON, or a header that is absent
 * or unreadable, reads as null (a count as 0, the reason as `unknown`). `attempts` is `x-attempts`, the ledger's attempts
 * when the mailer dead-lettered it.
 */
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

/**
 * Whether a replay with `filter` moves `letter`: `all` matches every one; otherwise each of
 * `reason` and `smtpCode` that is given must match, and a filter with neither matches nothing.
 */
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

interface DeadLetterStoreOptions {
  link: BrokerLink;
  deadLetterQueue: string;
  /** Where a replay moves dead letters to. */
  workQueue: string;
  /** Replayed messages per second at most, so a large replay does not flood the workers. */
  replayRatePerSecond: number;
  /** How long a replayed message's publish may wait for the broker's confirm, ms. */
  confirmTimeoutMs: number;
  logger: Logger;
}

// Channel operations would wait for a reconnect; an operator should hear at once instead.
function requireBroker(link: BrokerLink): void {
  if (!link.isConnected()) throw new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker');
}

// A connection lost half-way is the broker's unavailability too, not an internal error.
function asBrokerError(link: BrokerLink, err: unknown): unknown {
  return link.isConnected() && !/closed/i.test((err as Error)?.message ?? '')
    ? err
    : new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Lost the broker connection', { cause: err });
}

/**
 * Messages fetched without an ack go back to the queue when their channel closes, but a quorum
 * queue counts them again only a moment later. Waiting for that keeps a list followed at once
 * by a replay (or a dry run by the real one) from missing dead letters.
 */
async function awaitReturned(options: DeadLetterStoreOptions, expectedReady: number): Promise<void> {
  const ch = await options.link.openChannel();
  try {
    const deadline = Date.now() + RETURN_WAIT_MS;
    while (Date.now() < deadline) {
      if ((await ch.checkQueue(options.deadLetterQueue)).messageCount >= expectedReady) return;
      await sleep(20);
    }
    options.logger.warn({ expectedReady }, 'dead letters handed back are not all counted again yet');
  } finally {
    await ch.close().catch(() => undefined);
  }
}

async function listPage(
  options: DeadLetterStoreOptions,
  { offset, limit }: { offset: number; limit: number },
): Promise<{ total: number; messages: DeadLetter[] }> {
  const ch = await options.link.openChannel();
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
    await awaitReturned(options, total);
    return { total, messages };
  } catch (err) {
    throw asBrokerError(options.link, err);
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/**
 * The headers of a dead letter's copy for the work queue, from the dead letter's: its failure
 * history (`FAILURE_HEADERS`: the copy's retry schedule starts afresh) and the broker's history
 * are dropped, every other header is kept, and `x-replayed-at` (`now`, ISO 8601) and
 * `x-replay-count` (one more than the dead letter's) are set.
 */
export function replayHeaders(headers: Record<string, unknown> | undefined, now = new Date()): Record<string, unknown> {
  const copy = Object.fromEntries(
    Object.entries(withoutBrokerHistory(headers)).filter(([k]) => !FAILURE_HEADERS.has(k)),
  );
  copy[MailerHeaders.replayedAt] = now.toISOString();
  copy[MailerHeaders.replayCount] = readCountHeader(headers, MailerHeaders.replayCount) + 1;
  return copy;
}

/** The channel replay reads from and the confirm channel it publishes on; closes the first if the second fails. */
async function openReplayChannels(link: BrokerLink) {
  const ch = await link.openChannel();
  const pub = await link.openConfirmChannel().catch(async (err: unknown) => {
    await ch.close().catch(() => undefined);
    throw err;
  });
  return { ch, pub };
}

async function replayOnce(
  options: DeadLetterStoreOptions,
  filter: ReplayFilter,
  dryRun: boolean,
  limit: number,
): Promise<ReplayResult> {
  const { logger } = options;
  const { ch, pub } = await openReplayChannels(options.link);
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
      await publisher.publish('', options.workQueue, msg.content, {
        ...msg.properties,
        messageId: letter.messageId ?? `no-id-${result.scanned}`,
        headers: replayHeaders(msg.properties.headers),
        persistent: true,
      });
      ch.ack(msg);
      result.moved += 1;
      logger.info(
        { orderId: letter.orderId, messageId: letter.messageId, reason: letter.reason, smtpCode: letter.smtpCode },
        'dead letter replayed to the work queue',
      );
      await sleep(pauseMs);
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
  await awaitReturned(options, messageCount - result.moved);
  return result;
}

/**
 * The dead-letter queue as operators see it, through `link`. Both operations reject with AppError
 * BROKER_UNAVAILABLE when the broker is not connected or the connection is lost under them;
 * `replay` rejects with CONFLICT while another replay of this store runs.
 */
export function createDeadLetterStore(options: DeadLetterStoreOptions): DeadLetterStore {
  let replaying = false;

  return {
    async list(page) {
      requireBroker(options.link);
      return listPage(options, page);
    },

    async replay(filter, { dryRun, limit }) {
      requireBroker(options.link);
      if (replaying)
        throw new AppError(ErrorCodes.CONFLICT, 'A replay is already running; try again when it has finished');
      replaying = true;
      try {
        return await replayOnce(options, filter, dryRun, limit);
      } catch (err) {
        throw asBrokerError(options.link, err);
      } finally {
        replaying = false;
      }
    },
  };
}
