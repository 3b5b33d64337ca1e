import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@order-mail/shared/logger';
import {
  openBroker,
  type BrokerLink,
  type Channel,
  type ChannelOpener,
  type ConsumeMessage,
} from '@order-mail/shared/broker';
import { toNewDeadLetter } from '../../adapters/broker/dead-letter-messages';
import { declarationOn, declareMailerTopology, type MailerTopology } from '../../adapters/broker/mailer-topology';
import type { PgDeadLetterRecords } from '../../adapters/db/dead-letter-records-pg';
import { classifyDatabaseError, databaseRetryDelayMs } from '../../domain/database-problems';

export interface DeadLetterRecorderOptions {
  amqpUrl: string;
  topology: MailerTopology;
  records: Pick<PgDeadLetterRecords, 'record'>;
  logger: Logger;
  /** Names the broker connection (`mailer <workerId> dead-letter recorder`). */
  workerId: string;
  /** Unacked dead letters at most, and the largest batch (default 200). */
  prefetch?: number;
  /** How long a batch waits for more dead letters before it is recorded, ms (default 20). */
  batchWindowMs?: number;
  /** Called after each committed batch with how many new records it made (redeliveries already recorded are not counted). */
  onRecorded?: (count: number) => void;
}

/** Moves dead letters from the dead-letter queue into `dead_letters`: created idle, started once, stopped once. */
export interface DeadLetterRecorder {
  /** Opens its own broker connection, declares the topology and consumes; resolves once the connection is being made. */
  start(): Promise<void>;
  /**
   * Cancels the consumer, lets the batch being recorded finish (and be acked), abandons one that
   * waits to be retried (unacked: it goes back to the queue), closes the connection.
   */
  stop(): Promise<void>;
  /** Consuming now (started, connected, not cancelled or stopping). */
  isReady(): boolean;
  /** The connection; null until `start` resolved. */
  link(): BrokerLink | null;
}

const DEFAULT_PREFETCH = 200;
const DEFAULT_BATCH_WINDOW_MS = 20;
/** A recording problem that persists is logged again after this long, ms. */
const REMINDER_MS = 60_000;

/** One consuming channel; `open` turns false when it closes (its unacked messages are back in the queue then). */
interface ChannelState {
  ch: Channel;
  open: boolean;
}

interface Batch {
  channel: ChannelState;
  messages: ConsumeMessage[];
}

/**
 * Records dead letters in batches, each committed before its messages are acked: a crash in
 * between leaves them in the queue, and their redelivery is recognised by fingerprint. While
 * recording fails (PostgreSQL away, anything), the batch is retried with backoff (250 ms doubling
 * to 5 s) and stays unacked meanwhile; with at most `prefetch` unacked, nothing more is taken.
 */
export function createDeadLetterRecorder(options: DeadLetterRecorderOptions): DeadLetterRecorder {
  return new RecorderRun(options);
}

class RecorderRun implements DeadLetterRecorder {
  private readonly prefetch: number;
  private readonly batchWindowMs: number;
  private readonly stopSignal = new AbortController();
  private brokerLink: BrokerLink | null = null;
  private channel: ChannelState | null = null;
  private consumerTag: string | null = null;
  private stopping = false;
  private buffer: Batch | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Batches are recorded one after the other, in delivery order. */
  private recording: Promise<void> = Promise.resolve();
  /** The recording problem last logged, and when; null while recording works. */
  private failure: { problem: string; at: number; since: number } | null = null;

  constructor(private readonly options: DeadLetterRecorderOptions) {
    this.prefetch = options.prefetch ?? DEFAULT_PREFETCH;
    this.batchWindowMs = options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
  }

  async start(): Promise<void> {
    this.brokerLink = await openBroker({
      url: this.options.amqpUrl,
      connectionName: `mailer ${this.options.workerId} dead-letter recorder`,
      logger: this.options.logger,
      onDisconnect: () => this.forgetChannel(),
      setup: (open) => this.setup(open),
    });
  }

  isReady(): boolean {
    return !this.stopping && this.consumerTag !== null && (this.brokerLink?.isConnected() ?? false);
  }

  link(): BrokerLink | null {
    return this.brokerLink;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const current = this.channel;
    if (current?.open && this.consumerTag) {
      await current.ch
        .cancel(this.consumerTag)
        .catch((err: unknown) => this.options.logger.warn({ err }, 'dead-letter recorder: cancel failed'));
    }
    this.consumerTag = null;
    // What was buffered gets one try; a batch waiting to be retried is abandoned (left unacked).
    this.flush();
    this.stopSignal.abort();
    await this.recording;
    await this.brokerLink?.close();
  }

  /** Run on every (re)connect: amqplib recovers the connection only, so the channel and consumer are rebuilt here. */
  private async setup(open: ChannelOpener): Promise<void> {
    const { topology } = this.options;
    const ch = await open.channel();
    const state: ChannelState = { ch, open: true };
    ch.on('close', () => {
      state.open = false;
    });
    await declareMailerTopology(declarationOn(ch, open, this.options.logger), topology);
    await ch.prefetch(this.prefetch);
    this.forgetChannel();
    this.channel = state;
    if (this.stopping) return;
    const { consumerTag } = await ch.consume(topology.deadLetterQueue, (msg) => this.receive(state, msg), {
      noAck: false,
    });
    this.consumerTag = consumerTag;
  }

  /** The channel is gone: its unacked messages are back in the queue, so what was buffered from it is dropped. */
  private forgetChannel(): void {
    if (this.channel) this.channel.open = false;
    this.channel = null;
    this.consumerTag = null;
    this.buffer = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private receive(state: ChannelState, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (queue deleted or failed over): rebuild from scratch.
      this.options.logger.warn(
        { queue: this.options.topology.deadLetterQueue },
        'dead-letter recorder cancelled by the broker, reconnecting',
      );
      this.consumerTag = null;
      state.ch.close().catch(() => undefined);
      return;
    }
    // Left unacked: it goes back to the queue when the channel closes.
    if (this.stopping) return;
    if (this.buffer?.channel !== state) this.buffer = { channel: state, messages: [] };
    this.buffer.messages.push(msg);
    if (this.buffer.messages.length >= this.prefetch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.batchWindowMs);
  }

  /** Queues the buffered messages for recording as one batch. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = null;
    if (!batch || batch.messages.length === 0) return;
    // A bug in one batch must not stop every later one (the chain would stay rejected); its messages stay unacked.
    this.recording = this.recording
      .then(() => this.recordBatch(batch))
      .catch((err: unknown) => this.options.logger.error({ err }, 'dead-letter batch failed unexpectedly'));
  }

  /** Records `batch` until it is committed (then acks it), its channel is lost, or the recorder stops. */
  private async recordBatch(batch: Batch): Promise<void> {
    const letters = batch.messages.map((msg) => toNewDeadLetter(msg));
    for (let attempt = 0; batch.channel.open; attempt++) {
      try {
        const inserted = await this.options.records.record(letters);
        this.recovered(attempt);
        this.acknowledge(batch, inserted);
        return;
      } catch (err) {
        this.failed(err, batch.messages.length, attempt);
        if (this.stopping) break;
        await sleep(databaseRetryDelayMs(attempt), undefined, { signal: this.stopSignal.signal }).catch(
          () => undefined,
        );
        if (this.stopping) break;
      }
    }
    this.options.logger.debug(
      { count: batch.messages.length, stopping: this.stopping },
      'dead-letter batch not recorded; it stays in the queue',
    );
  }

  /** Acks a committed batch; if its channel is gone meanwhile, the broker redelivers it and the fingerprints keep it recorded once. */
  private acknowledge(batch: Batch, inserted: number): void {
    const { logger } = this.options;
    const count = batch.messages.length;
    try {
      if (!batch.channel.open) throw new Error('channel closed');
      for (const msg of batch.messages) batch.channel.ch.ack(msg);
      logger.debug({ count, inserted, duplicates: count - inserted }, 'dead letters recorded');
    } catch (err) {
      logger.warn(
        { count, inserted, error: (err as Error).message },
        'dead letters recorded, but their channel closed before the ack; their redelivery will be recognised',
      );
    }
    this.options.onRecorded?.(inserted);
  }

  /** Logs a failed attempt: once per problem (and a reminder a minute), never once per retry. */
  private failed(err: unknown, count: number, attempt: number): void {
    const verdict = classifyDatabaseError(err);
    const error = (err as Error)?.message ?? String(err);
    const problem = verdict.problem === 'other' ? `other: ${error}` : verdict.problem;
    const now = Date.now();
    if (this.failure?.problem === problem && now - this.failure.at < REMINDER_MS) return;
    this.failure = { problem, at: now, since: this.failure?.since ?? now };
    this.options.logger.warn(
      { problem: verdict.problem, description: verdict.description, error, count, attempt },
      'cannot record dead letters; they stay unacknowledged in the dead-letter queue, retrying',
    );
  }

  private recovered(attempt: number): void {
    if (this.failure === null) return;
    this.options.logger.info(
      { attempts: attempt + 1, failingForMs: Date.now() - this.failure.since },
      'recording dead letters again',
    );
    this.failure = null;
  }
}
