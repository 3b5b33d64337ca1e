import { AppError, ErrorCodes } from '@order-mail/shared/contract';
import { createLogger, type Logger } from '@order-mail/shared/logger';
import { brokerNodeCheck, listenHttp, type ReadinessCheck } from '@order-mail/shared/http';
import { createMetricsRegistry, createUpGauge } from '@order-mail/shared/metrics';
import type { Registry } from 'prom-client';
import { shopIdentityFromConfig, type MailerConfig } from './config';
import { loadMessageCatalogues } from './adapters/i18n/message-catalogues';
import { mailerTopologyFromConfig } from './adapters/broker/mailer-topology';
import { createDatabase, migrateWhenReachable, type Database } from './adapters/db/database';
import { createPgDeliveryLedger } from './adapters/db/delivery-ledger-pg';
import { createPgDeadLetterRecords } from './adapters/db/dead-letter-records-pg';
import { createPgSuppressionList } from './adapters/db/suppressions-pg';
import { createDeadLetterMetrics } from './adapters/metrics/dead-letter-metrics';
import { createOutboxMetrics } from './adapters/metrics/outbox-metrics';
import { createPgOutbox } from './adapters/db/outbox-pg';
import { removeExpiredPersonalData } from './adapters/db/pii-retention-pg';
import { createPgErasure } from './adapters/db/erasure-pg';
import { createPgSendRateLimiter } from './adapters/db/send-rate-limiter-pg';
import type { RecipientErasure } from './domain/erasure';
import { createInFlightGauge, createMailerMetrics } from './adapters/metrics/mailer-metrics';
import { startSmtpMonitor } from './adapters/smtp/smtp-monitor';
import { createSmtpTransport, type SmtpTransport } from './adapters/smtp/smtp-transport';
import { compileTemplates } from './adapters/templates/template-renderer';
import { createMailWorker, type MailWorkerDeps } from './domain/mail-worker';
import type { ComposeOrderEmailDeps } from './domain/compose-order-email';
import type { RetrySchedule } from './domain/retry-policy';
import type { DeadLetterRecords, DeadLetterReplays } from './domain/dead-letters';
import type { SuppressionList } from './domain/suppression';
import { createReplayJobRunner, type ReplayJobRunner } from './entry-points/jobs/replay-job-runner';
import { createOutboxRelay, type OutboxRelay } from './entry-points/jobs/outbox-relay';
import { createWebhookDispatcher, type WebhookDispatcher } from './entry-points/jobs/webhook-dispatcher';
import { createWebhookSender } from './adapters/webhooks/webhook-sender';
import { createPgWebhookQueue, removeExpiredWebhookDeliveries } from './adapters/db/webhook-deliveries-pg';
import { createWebhookMetrics } from './adapters/metrics/webhook-metrics';
import { createPgWebhookLog } from './adapters/db/webhook-log-pg';
import type { WebhookLog } from './domain/webhooks';
import { createDeadLetterRecorder, type DeadLetterRecorder } from './entry-points/queue/dead-letter-recorder';
import { createMailerApp } from './entry-points/http/app';
import {
  createOrderConfirmedConsumer,
  type OrderConfirmedConsumer,
} from './entry-points/queue/order-confirmed-consumer';

export interface RunningMailer {
  port: number;
  isReady(): boolean;
  /**
   * Settles once start-up is over: resolves when the migrations are applied and the consumer is
   * started (its broker connection may still be on its way); rejects with an AppError whose
   * message is one line naming the setting when the mailer cannot go on (an invalid DATABASE_URL,
   * a migration that fails). Until then the HTTP server answers and `/readyz` says
   * `database: unavailable`; nothing is consumed.
   */
  started: Promise<void>;
  /** Cancels the consumer, finishes and acks in-flight sends, closes broker, SMTP pool and database. */
  stop(): Promise<void>;
}

const RETRY_AFTER_SECONDS = 5;
/** `User-Agent` of the webhook POSTs (receivers' logs and firewalls tell them apart by it). */
const WEBHOOK_USER_AGENT = 'order-mail-webhooks/1 (+https://www.standardwebhooks.com)';
/** How often the database is checked for readiness (`/readyz`, `mailer_database_up`). */
const DATABASE_RECHECK_MS = 5000;
/** How often replayed and purged dead-letter records past `DEAD_LETTER_RETENTION_DAYS` are deleted. */
const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

/** The mailer's parts, wired but idle: nothing connects until the HTTP server listens. */
interface MailerParts {
  registry: Registry;
  database: Database;
  /** Set once the ledger's migrations are applied: the consumer starts only then. */
  ledgerState: { migrated: boolean };
  transport: SmtpTransport;
  consumer: OrderConfirmedConsumer;
  /** Moves dead letters from the dead-letter queue into `dead_letters` (its own broker connection). */
  recorder: DeadLetterRecorder;
  records: DeadLetterRecords;
  /** Replay jobs: at most one at a time across all mailers, resumed by any of them after a stop. */
  replays: ReplayJobRunner;
  /** Publishes the delivery events the ledger writes to its outbox (one mailer at a time does). */
  relay: OutboxRelay;
  /** POSTs the relayed events to WEBHOOK_URL; null when it is not set. */
  webhooks: WebhookDispatcher | null;
  app: ReturnType<typeof createMailerApp>;
}

/** One condition of readiness: `/readyz` shows its status, a gauge its up-ness, `isReady` needs all. */
interface ReadinessCondition extends ReadinessCheck {
  gauge: string;
  help: string;
}

/**
 * Starts the mailer: the HTTP server (health, readiness, metrics, admin API) at once, then, in the
 * background, the ledger's migrations (waiting for PostgreSQL with backoff for as long as it takes)
 * and only then the consumer. Rejects if the templates do not compile (`compileTemplates`: invalid
 * MJML, a missing `.txt`), a message catalogue does not (`loadMessageCatalogues`: the message names
 * its file and key) or the HTTP server cannot listen (e.g. EADDRINUSE); everything later settles
 * `started`.
 */
export async function startMailer(
  config: MailerConfig,
  logger: Logger = createLogger({ service: 'mailer', level: config.LOG_LEVEL }),
): Promise<RunningMailer> {
  const parts = await assembleMailer(config, logger);
  const conditions = readinessConditions(parts);
  registerUpGauges(parts, conditions);
  warnAboutFaultInjection(config, logger);
  const http = await listenHttp(parts.app, config.PORT, {
    limits: { headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS },
    logger,
    host: config.HOST,
  });
  // Where it listens, and whether the admin API is on (never the token itself).
  const adminApi = config.ADMIN_TOKEN ? 'on' : 'off (ADMIN_TOKEN is not set)';
  // The receiver's host only: a path may carry a token of the shop's.
  const webhooks = config.WEBHOOK_URL ? `on (${new URL(config.WEBHOOK_URL).host})` : 'off (WEBHOOK_URL is not set)';
  logger.info(
    { host: config.HOST, port: http.port, url: http.url, queue: config.MAILER_QUEUE, adminApi, webhooks },
    'mailer listening',
  );

  const smtpMonitor = startSmtpMonitor({
    transport: parts.transport,
    smtpUrl: config.SMTP_URL,
    readyIntervalMs: config.SMTP_CHECK_INTERVAL_MS,
    logger,
  });
  const databaseMonitor = setInterval(() => void parts.database.check(), DATABASE_RECHECK_MS);
  databaseMonitor.unref();
  const retention = setInterval(() => void applyRetention(config, parts, logger), RETENTION_INTERVAL_MS);
  retention.unref();
  const startup = new AbortController();
  const started = migrateThenConsume(config, parts, logger, startup.signal);
  // Handled by whoever awaits `started` (runMain exits 1); never an unhandled rejection here.
  started.catch(() => undefined);

  let stopped: Promise<void> | null = null;
  const stop = async () => {
    startup.abort();
    await started.catch(() => undefined);
    smtpMonitor.stop();
    clearInterval(databaseMonitor);
    clearInterval(retention);
    // The replay first (it publishes to the work queue), the recorder last (it records what the consumer dead-lettered).
    // Events the relay has not published yet stay in the outbox for the next relay.
    await parts.replays.stop();
    await parts.relay.stop();
    await parts.webhooks?.stop();
    await parts.consumer.stop();
    await parts.recorder.stop();
    parts.transport.close();
    await http.close(config.SHUTDOWN_TIMEOUT_MS);
    await parts.database.close();
  };
  return {
    port: http.port,
    started,
    isReady: () => conditions.every((c) => c.status() === 'ready'),
    stop: () => (stopped ??= stop()),
  };
}

/**
 * What an order's email is composed with (`composeOrderEmail`): the compiled templates and the
 * email settings from config. The worker, `POST /preview` and `npm run preview` all take theirs
 * from here, so a preview is the email that would be sent. Compiling the templates and the message
 * catalogues is the slow step; opens nothing.
 */
export async function composeDepsFromConfig(config: MailerConfig): Promise<ComposeOrderEmailDeps> {
  const [templates, localizer] = await Promise.all([compileTemplates(), loadMessageCatalogues()]);
  return {
    templates,
    settings: {
      shop: shopIdentityFromConfig(config),
      localizer,
      messageIdDomain: config.MESSAGE_ID_DOMAIN,
      replyTo: config.REPLY_TO,
    },
  };
}

/** Builds every part from config; compiles the templates (the only slow step), opens nothing. */
async function assembleMailer(config: MailerConfig, logger: Logger): Promise<MailerParts> {
  const registry = createMetricsRegistry('mailer');
  const compose = await composeDepsFromConfig(config);
  // Nothing connects here: the pool opens connections on first use, after the HTTP server listens.
  const database = createDatabase({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger });
  // Called only once the mailer runs, long after `relay` (built once the consumer exists) is set.
  const ledger = createPgDeliveryLedger(database.pool, {}, { onEventsWritten: () => relay.wake() });
  const transport = transportFromConfig(config);
  const schedule = retryScheduleFromConfig(config);
  const metrics = createMailerMetrics(registry, { retryAttempts: config.RETRY_DELAYS.length });
  const worker = createMailWorker({
    transport,
    templates: compose.templates,
    ledger,
    metrics,
    logger,
    schedule,
    workerId: config.WORKER_ID,
    mailFrom: config.MAIL_FROM,
    // The very settings POST /preview composes with.
    email: compose.settings,
    faultPauseBeforeRecordMs: config.FAULT_PAUSE_BEFORE_RECORD_MS,
    maxClaimed: 2 * config.SMTP_POOL_SIZE,
    ...sendRateFromConfig(config, database, logger),
  });
  const consumer = createOrderConfirmedConsumer({
    amqpUrl: config.AMQP_URL,
    topology: mailerTopologyFromConfig(config),
    schedule,
    prefetch: config.PREFETCH,
    confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
    workerId: config.WORKER_ID,
    worker,
    metrics,
    logger,
    faultPauseBeforeAckMs: config.FAULT_PAUSE_BEFORE_ACK_MS,
  });
  createInFlightGauge(registry, () => consumer.inFlight());
  const ledgerState = { migrated: false };
  const { relay, webhooks } = relayFromConfig(config, { registry, database, ledgerState, consumer }, logger);
  const { records, recorder, replays } = assembleDeadLetters(
    config,
    { registry, database, ledgerState, consumer },
    logger,
  );
  const parts = { registry, database, ledgerState, transport, consumer, recorder, records, replays, relay, webhooks };
  const guarded = onceMigrated(ledgerState, records, replays);
  const app = createMailerApp({
    registry,
    checks: [...readinessConditions(parts), brokerNodeCheck(() => consumer.link()?.node() ?? null)],
    ledger,
    deadLetters: guarded.records,
    replays: guarded.replays,
    ...recipientPortsOnceMigrated(ledgerState, database.pool),
    logger,
    adminToken: config.ADMIN_TOKEN,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    preview: compose,
  });
  return { ...parts, app };
}

/**
 * The outbox relay and its metrics, publishing on the consumer's broker connection, and the
 * webhook dispatcher it hands the relayed events to (`webhooksFromConfig`); idle until started.
 */
function relayFromConfig(
  config: MailerConfig,
  parts: Pick<MailerParts, 'registry' | 'database' | 'ledgerState' | 'consumer'>,
  logger: Logger,
): Pick<MailerParts, 'relay' | 'webhooks'> {
  const { registry, database, ledgerState, consumer } = parts;
  const webhooks = webhooksFromConfig(config, parts, logger);
  const outbox = createPgOutbox(database.pool, config.DATABASE_SCHEMA, { webhooks: webhooks !== null });
  const metrics = createOutboxMetrics(registry, {
    stats: () => (ledgerState.migrated ? outbox.stats() : Promise.reject(new Error('not migrated yet'))),
  });
  const relay = createOutboxRelay({
    outbox,
    link: () => consumer.link(),
    exchange: config.MAIL_EVENTS_EXCHANGE,
    confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
    ready: () => ledgerState.migrated,
    logger,
    onPublished: (type, routed) => metrics.published(type, routed),
    onRemoved: () => webhooks?.wake(),
    faultPauseMs: config.FAULT_PAUSE_BEFORE_RELAY_MS,
  });
  return { relay, webhooks };
}

/**
 * The webhook metrics (always: the dashboard's panels read 0, not "no data") and, when
 * WEBHOOK_URL is set, the dispatcher POSTing to it; idle until started.
 */
function webhooksFromConfig(
  config: MailerConfig,
  parts: Pick<MailerParts, 'registry' | 'database' | 'ledgerState'>,
  logger: Logger,
): WebhookDispatcher | null {
  const { registry, database, ledgerState } = parts;
  const queue = createPgWebhookQueue(database.pool);
  const metrics = createWebhookMetrics(registry, {
    stats: () => (ledgerState.migrated ? queue.stats() : Promise.reject(new Error('not migrated yet'))),
  });
  // config refuses WEBHOOK_URL without WEBHOOK_SECRET.
  if (config.WEBHOOK_URL === undefined || config.WEBHOOK_SECRET === undefined) return null;
  return createWebhookDispatcher({
    queue,
    sender: createWebhookSender({
      url: config.WEBHOOK_URL,
      secrets: config.WEBHOOK_SECRET,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      userAgent: WEBHOOK_USER_AGENT,
    }),
    retryDelaysMs: config.WEBHOOK_RETRY_DELAYS,
    concurrency: config.WEBHOOK_CONCURRENCY,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    ready: () => ledgerState.migrated,
    logger,
    onAttempt: (outcome, seconds) => metrics.attempted(outcome, seconds),
  });
}

/** RETRY_DELAYS and UNKNOWN_OUTCOME_GRACE_MS, as the worker and the consumer's internal errors follow them. */
function retryScheduleFromConfig(config: MailerConfig): RetrySchedule {
  return { delaysMs: config.RETRY_DELAYS, unknownOutcomeGraceMs: config.UNKNOWN_OUTCOME_GRACE_MS };
}

/**
 * The worker's sending rate: the cap shared by all mailers (SMTP_MAX_RATE; unset, none and no
 * queries; its table is migration 006's, and sends start only once migrated) and the pause after
 * rate-limit replies (SMTP_RATE_LIMIT_PAUSE_MS).
 */
function sendRateFromConfig(
  config: MailerConfig,
  database: Database,
  logger: Logger,
): Pick<MailWorkerDeps, 'rateLimiter' | 'rateLimitPauseMs'> {
  const rate = config.SMTP_MAX_RATE;
  return {
    rateLimiter:
      rate === undefined
        ? undefined
        : createPgSendRateLimiter(database.pool, { ratePerSecond: rate, schema: config.DATABASE_SCHEMA, logger }),
    rateLimitPauseMs: config.SMTP_RATE_LIMIT_PAUSE_MS,
  };
}

/** The SMTP pool as configured; opens connections on first use. */
function transportFromConfig(config: MailerConfig): SmtpTransport {
  return createSmtpTransport({
    url: config.SMTP_URL,
    maxConnections: config.SMTP_POOL_SIZE,
    connectionTimeoutMs: config.SMTP_CONNECTION_TIMEOUT_MS,
    greetingTimeoutMs: config.SMTP_GREETING_TIMEOUT_MS,
    socketTimeoutMs: config.SMTP_SOCKET_TIMEOUT_MS,
    sendTimeoutMs: config.SMTP_SEND_TIMEOUT_MS,
  });
}

/** The dead-letter parts: the table's queries, the recorder that fills it, the replay-job runner and their metrics. */
function assembleDeadLetters(
  config: MailerConfig,
  parts: Pick<MailerParts, 'registry' | 'database' | 'ledgerState' | 'consumer'>,
  logger: Logger,
): Pick<MailerParts, 'records' | 'recorder' | 'replays'> {
  const { registry, database, ledgerState, consumer } = parts;
  const records = createPgDeadLetterRecords(database.pool);
  const deadLetterMetrics = createDeadLetterMetrics(registry, {
    stats: () => (ledgerState.migrated ? records.stats() : Promise.reject(new Error('not migrated yet'))),
  });
  const recorder = createDeadLetterRecorder({
    amqpUrl: config.AMQP_URL,
    topology: mailerTopologyFromConfig(config),
    records,
    logger,
    workerId: config.WORKER_ID,
    onRecorded: (count) => deadLetterMetrics.recorded(count),
  });
  const replays = createReplayJobRunner({
    pool: database.pool,
    schema: config.DATABASE_SCHEMA,
    link: () => consumer.link(),
    workQueue: config.MAILER_QUEUE,
    ratePerSecond: config.REPLAY_RATE_PER_SECOND,
    confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
    workerId: config.WORKER_ID,
    logger,
    onJobFinished: (state) => deadLetterMetrics.jobFinished(state),
  });
  return { records, recorder, replays };
}

/** The readiness conditions, defined once: `/readyz`, the up gauges and `isReady` all read these. */
function readinessConditions(parts: Omit<MailerParts, 'app'>): ReadinessCondition[] {
  const { consumer, recorder, transport, database, ledgerState } = parts;
  return [
    {
      name: 'broker',
      gauge: 'broker_connected',
      help: 'Whether the broker connections, topology and consumers (work queue, dead-letter recorder) are up (1) or not (0).',
      status: () => (consumer.isReady() && recorder.isReady() ? 'ready' : 'not_ready'),
    },
    {
      name: 'smtp',
      gauge: 'mailer_smtp_up',
      help: 'Whether the SMTP server is usable (1) or not (0).',
      status: () => transport.state(),
    },
    {
      name: 'database',
      gauge: 'mailer_database_up',
      help: "Whether the ledger's PostgreSQL answers and its migrations are applied (1) or not (0).",
      status: () => (ledgerState.migrated && database.isReady() ? 'ready' : 'unavailable'),
    },
  ];
}

function registerUpGauges(parts: MailerParts, conditions: ReadinessCondition[]): void {
  for (const c of conditions) createUpGauge(parts.registry, c.gauge, c.help, () => c.status() === 'ready');
  createUpGauge(
    parts.registry,
    'mailer_smtp_auth_failed',
    'Whether the SMTP server refuses our credentials (1) or not (0).',
    () => parts.transport.state() === 'auth_failed',
  );
}

/** Settings that are valid but probably not what was meant: test-only fault injection, webhook settings that do nothing. */
function warnAboutFaultInjection(config: MailerConfig, logger: Logger): void {
  for (const key of ['FAULT_PAUSE_BEFORE_ACK_MS', 'FAULT_PAUSE_BEFORE_RELAY_MS'] as const) {
    if (config[key]) logger.warn({ pauseMs: config[key] }, `${key} is set: test-only fault injection is on`);
  }
  if (config.WEBHOOK_SECRET && !config.WEBHOOK_URL) {
    logger.warn('WEBHOOK_SECRET is set but WEBHOOK_URL is not: no webhooks are sent');
  }
  if (config.WEBHOOK_LOG_RETENTION_DAYS > config.LEDGER_PII_RETENTION_DAYS) {
    logger.warn(
      { webhookLogDays: config.WEBHOOK_LOG_RETENTION_DAYS, personalDataDays: config.LEDGER_PII_RETENTION_DAYS },
      'WEBHOOK_LOG_RETENTION_DAYS exceeds LEDGER_PII_RETENTION_DAYS: webhook deliveries are deleted after LEDGER_PII_RETENTION_DAYS, since they hold the recipient',
    );
  }
}

/**
 * Runs a call of an admin port only once the migrations are applied (the tables may not exist
 * yet); before, it rejects with AppError DATABASE_UNAVAILABLE (a 503 naming the wait).
 */
function whenMigrated(state: { migrated: boolean }) {
  return <T>(call: () => Promise<T>): Promise<T> =>
    state.migrated
      ? call()
      : Promise.reject(
          new AppError(ErrorCodes.DATABASE_UNAVAILABLE, 'The mailer is still waiting for its ledger database'),
        );
}

/** The dead-letter ports as the admin API uses them, each call `whenMigrated`. */
function onceMigrated(
  state: { migrated: boolean },
  records: DeadLetterRecords,
  replays: DeadLetterReplays,
): { records: DeadLetterRecords; replays: DeadLetterReplays } {
  const ready = whenMigrated(state);
  return {
    records: {
      list: (filter, page) => ready(() => records.list(filter, page)),
      find: (id) => ready(() => records.find(id)),
      purge: (filter, options) => ready(() => records.purge(filter, options)),
      removeExpired: (days) => ready(() => records.removeExpired(days)),
      stats: () => ready(() => records.stats()),
    },
    replays: {
      preview: (filter, limit) => ready(() => replays.preview(filter, limit)),
      start: (filter, options) => ready(() => replays.start(filter, options)),
      get: (id) => ready(() => replays.get(id)),
      recent: (limit) => ready(() => replays.recent(limit)),
    },
  };
}

/** The suppression list, erasure and webhook delivery log as the admin API uses them, each call `whenMigrated`. */
function recipientPortsOnceMigrated(
  state: { migrated: boolean },
  pool: Database['pool'],
): { suppressions: SuppressionList; erasure: RecipientErasure; webhookLog: WebhookLog } {
  const ready = whenMigrated(state);
  const list = createPgSuppressionList(pool);
  const erasure = createPgErasure(pool);
  const webhookLog = createPgWebhookLog(pool);
  return {
    webhookLog: {
      list: (query) => ready(() => webhookLog.list(query)),
      get: (eventId) => ready(() => webhookLog.get(eventId)),
      redeliver: (selection) => ready(() => webhookLog.redeliver(selection)),
    },
    suppressions: {
      list: (query) => ready(() => list.list(query)),
      add: (entry) => ready(() => list.add(entry)),
      remove: (address) => ready(() => list.remove(address)),
      suppressedAmong: (addresses) => ready(() => list.suppressedAmong(addresses)),
    },
    erasure: { erase: (key, erasedBy) => ready(() => erasure.erase(key, erasedBy)) },
  };
}

/**
 * The hourly retention: replayed and purged dead-letter records past DEAD_LETTER_RETENTION_DAYS
 * are deleted, ledger rows past LEDGER_PII_RETENTION_DAYS lose their personal data, and finished
 * webhook deliveries past WEBHOOK_LOG_RETENTION_DAYS (at most the former) are deleted. A
 * failure is logged and tried again at the next run.
 */
async function applyRetention(config: MailerConfig, parts: MailerParts, logger: Logger): Promise<void> {
  if (!parts.ledgerState.migrated) return;
  await removeExpiredDeadLetters(config, parts, logger);
  try {
    const cleaned = await removeExpiredPersonalData(parts.database.pool, config.LEDGER_PII_RETENTION_DAYS);
    if (cleaned > 0) {
      logger.info(
        { cleaned, retentionDays: config.LEDGER_PII_RETENTION_DAYS },
        'personal data removed from old deliveries',
      );
    }
  } catch (err) {
    logger.warn({ err }, 'could not remove personal data from old deliveries; trying again in an hour');
  }
  await removeExpiredWebhookLog(config, parts, logger);
}

/** Finished webhook deliveries hold the recipient: never kept past LEDGER_PII_RETENTION_DAYS. */
async function removeExpiredWebhookLog(config: MailerConfig, parts: MailerParts, logger: Logger): Promise<void> {
  const days = Math.min(config.WEBHOOK_LOG_RETENTION_DAYS, config.LEDGER_PII_RETENTION_DAYS);
  try {
    const removed = await removeExpiredWebhookDeliveries(parts.database.pool, days);
    if (removed > 0) logger.info({ removed, retentionDays: days }, 'old webhook deliveries deleted');
  } catch (err) {
    logger.warn({ err }, 'could not delete old webhook deliveries; trying again in an hour');
  }
}

async function removeExpiredDeadLetters(config: MailerConfig, parts: MailerParts, logger: Logger): Promise<void> {
  try {
    const removed = await parts.records.removeExpired(config.DEAD_LETTER_RETENTION_DAYS);
    if (removed > 0) {
      logger.info({ removed, retentionDays: config.DEAD_LETTER_RETENTION_DAYS }, 'old dead-letter records deleted');
    }
  } catch (err) {
    logger.warn({ err }, 'could not delete old dead-letter records; trying again in an hour');
  }
}

/** The ledger must be in place before the first message is taken: the consumer starts after the migrations. */
async function migrateThenConsume(
  config: MailerConfig,
  parts: MailerParts,
  logger: Logger,
  signal: AbortSignal,
): Promise<void> {
  const migrated = await migrateWhenReachable({
    pool: parts.database.pool,
    schema: config.DATABASE_SCHEMA,
    url: config.DATABASE_URL,
    logger,
    signal,
  });
  if (!migrated || signal.aborted) return;
  parts.ledgerState.migrated = true;
  await parts.consumer.start();
  await parts.recorder.start();
  parts.replays.startResuming();
  parts.relay.start();
  parts.webhooks?.start();
  await applyRetention(config, parts, logger);
}
