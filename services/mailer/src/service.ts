import {
  AppError,
  createLogger,
  createMetricsRegistry,
  createUpGauge,
  ErrorCodes,
  listenHttp,
  maskUrlPassword,
  readinessCheck,
  type Logger,
} from '@order-mail/shared';
import type { MailerConfig } from './config';
import { createDeadLetterStore, type DeadLetterStore } from './adapters/broker/dead-letter-store';
import { createDatabase, migrateWhenReachable } from './adapters/db/database';
import { createPgDeliveryLedger } from './adapters/db/delivery-ledger-pg';
import { createMailerMetrics } from './adapters/metrics/mailer-metrics';
import { createSmtpTransport } from './adapters/smtp/smtp-transport';
import { compileTemplates } from './adapters/templates/template-renderer';
import { createMailWorker } from './domain/mail-worker';
import type { RetrySchedule } from './domain/retry-policy';
import { createMailerApp } from './entry-points/http/app';
import {
  startOrderConfirmedConsumer,
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

const DEPENDENCY_RECHECK_MS = 5000;
const RETRY_AFTER_SECONDS = 5;

/**
 * Starts the mailer: the HTTP server (health, readiness, metrics, admin API) at once, then, in the
 * background, the ledger's migrations (waiting for PostgreSQL with backoff for as long as it takes)
 * and only then the consumer. Rejects only if the HTTP server cannot listen (e.g. EADDRINUSE).
 */
export async function startMailer(
  config: MailerConfig,
  logger: Logger = createLogger({ service: 'mailer', level: config.LOG_LEVEL }),
): Promise<RunningMailer> {
  const registry = createMetricsRegistry('mailer');
  const templates = await compileTemplates();
  // Nothing connects here: the pool opens connections on first use, after the HTTP server listens.
  const database = createDatabase({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger });
  const ledger = createPgDeliveryLedger(database.pool);
  // The ledger must be in place before the first message is taken: the consumer starts after the migrations.
  let migrated = false;
  const databaseReady = () => migrated && database.isReady();
  let consumer: OrderConfirmedConsumer | null = null;
  let deadLetterStore: DeadLetterStore | null = null;

  const transport = createSmtpTransport({
    url: config.SMTP_URL,
    maxConnections: config.SMTP_POOL_SIZE,
    connectionTimeoutMs: config.SMTP_CONNECTION_TIMEOUT_MS,
    greetingTimeoutMs: config.SMTP_GREETING_TIMEOUT_MS,
    socketTimeoutMs: config.SMTP_SOCKET_TIMEOUT_MS,
    sendTimeoutMs: config.SMTP_SEND_TIMEOUT_MS,
    logger,
  });
  // Readiness reflects the SMTP server and the database. A verify opens a connection of its own
  // (not one of the pool's), so a check while sends are under way does not disturb them. One
  // check at a time; a failure is logged when the state changes, not at every check.
  let smtpCheck: Promise<void> | null = null;
  let smtpChecked = false;
  const checkSmtp = () =>
    (smtpCheck ??= (async () => {
      const before = smtpChecked ? transport.state() : null;
      const smtpUrl = maskUrlPassword(config.SMTP_URL);
      try {
        await transport.verify();
        if (before !== null && before !== 'ready')
          logger.info({ setting: 'SMTP_URL', smtpUrl }, 'SMTP server usable again');
      } catch (err) {
        const state = transport.state();
        const fields = {
          setting: 'SMTP_URL',
          smtpUrl,
          error: (err as Error).message,
          code: (err as { code?: unknown }).code,
        };
        if (state === before) logger.debug(fields, 'SMTP server still not usable');
        else if (state === 'auth_failed') logger.error(fields, 'SMTP server refused our credentials');
        else logger.warn(fields, 'SMTP server not reachable');
      } finally {
        smtpChecked = true;
        smtpCheck = null;
      }
    })());

  const schedule: RetrySchedule = {
    delaysMs: config.RETRY_DELAYS,
    unknownOutcomeGraceMs: config.UNKNOWN_OUTCOME_GRACE_MS,
  };
  const topology = {
    ordersExchange: config.ORDERS_EXCHANGE,
    routingKey: config.ORDER_CONFIRMED_ROUTING_KEY,
    workQueue: config.MAILER_QUEUE,
    deadLetterExchange: config.DEAD_LETTER_EXCHANGE,
    deadLetterQueue: config.DEAD_LETTER_QUEUE,
    deliveryLimit: config.DELIVERY_LIMIT,
    retryDelaysMs: config.RETRY_DELAYS,
    holdDelayMs: config.UNKNOWN_OUTCOME_GRACE_MS,
  };
  // In-flight is read from the consumer at scrape time; it exists once the consumer does.
  const metrics = createMailerMetrics(registry, {
    retryAttempts: config.RETRY_DELAYS.length,
    inFlight: () => consumer?.inFlight() ?? 0,
  });
  const consumerReady = () => consumer?.isReady() ?? false;
  const worker = createMailWorker({
    transport,
    templates,
    ledger,
    metrics,
    logger,
    schedule,
    workerId: config.WORKER_ID,
    mailFrom: config.MAIL_FROM,
    messageIdDomain: config.MESSAGE_ID_DOMAIN,
    faultPauseBeforeRecordMs: config.FAULT_PAUSE_BEFORE_RECORD_MS,
  });
  createUpGauge(
    registry,
    'broker_connected',
    'Whether the broker connection, topology and consumer are up (1) or not (0).',
    consumerReady,
  );
  createUpGauge(
    registry,
    'mailer_smtp_up',
    'Whether the SMTP server is usable (1) or not (0).',
    () => transport.state() === 'ready',
  );
  createUpGauge(
    registry,
    'mailer_smtp_auth_failed',
    'Whether the SMTP server refuses our credentials (1) or not (0).',
    () => transport.state() === 'auth_failed',
  );
  createUpGauge(
    registry,
    'mailer_database_up',
    "Whether the ledger's PostgreSQL answers and its migrations are applied (1) or not (0).",
    databaseReady,
  );
  if (config.FAULT_PAUSE_BEFORE_ACK_MS) {
    logger.warn(
      { pauseMs: config.FAULT_PAUSE_BEFORE_ACK_MS },
      'FAULT_PAUSE_BEFORE_ACK_MS is set: test-only fault injection is on',
    );
  }
  // The store needs the consumer's broker connection, which exists once the migrations are applied.
  const deadLetterStoreOrThrow = (): DeadLetterStore => {
    if (deadLetterStore) return deadLetterStore;
    throw new AppError(ErrorCodes.DATABASE_UNAVAILABLE, 'The mailer is still waiting for its ledger database');
  };
  const deadLetters: DeadLetterStore = {
    list: (page) => deadLetterStoreOrThrow().list(page),
    replay: (filter, options) => deadLetterStoreOrThrow().replay(filter, options),
  };
  const app = createMailerApp({
    registry,
    checks: [
      readinessCheck('broker', consumerReady),
      { name: 'smtp', status: () => (transport.state() === 'ready' ? 'ready' : transport.state()) },
      { name: 'database', status: () => (databaseReady() ? 'ready' : 'unavailable') },
    ],
    ledger,
    deadLetters,
    logger,
    adminToken: config.ADMIN_TOKEN,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
  const http = await listenHttp(app, config.PORT, {
    limits: { headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS },
    logger,
    host: config.HOST,
  });
  // Where it listens, and whether the admin API is on (never the token itself).
  logger.info(
    {
      host: config.HOST,
      port: http.port,
      url: http.url,
      queue: config.MAILER_QUEUE,
      adminApi: config.ADMIN_TOKEN ? 'on' : 'off (ADMIN_TOKEN is not set)',
    },
    'mailer listening',
  );

  // Checked now, then: SMTP every few seconds while not ready and every SMTP_CHECK_INTERVAL_MS while
  // ready (so a server that went away is noticed before the next order is); the database every few seconds.
  void checkSmtp();
  const dependencyMonitor = setInterval(() => {
    if (transport.state() !== 'ready') void checkSmtp();
    void database.check();
  }, DEPENDENCY_RECHECK_MS);
  dependencyMonitor.unref();
  const smtpMonitor = setInterval(() => {
    if (transport.state() === 'ready') void checkSmtp();
  }, config.SMTP_CHECK_INTERVAL_MS);
  smtpMonitor.unref();

  const startup = new AbortController();
  const started = (async () => {
    const migratedNow = await migrateWhenReachable({
      pool: database.pool,
      schema: config.DATABASE_SCHEMA,
      url: config.DATABASE_URL,
      logger,
      signal: startup.signal,
    });
    if (!migratedNow || startup.signal.aborted) return;
    migrated = true;
    const running = await startOrderConfirmedConsumer({
      amqpUrl: config.AMQP_URL,
      topology,
      schedule,
      prefetch: config.PREFETCH,
      confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
      workerId: config.WORKER_ID,
      worker,
      metrics,
      logger,
      faultPauseBeforeAckMs: config.FAULT_PAUSE_BEFORE_ACK_MS,
    });
    consumer = running;
    deadLetterStore = createDeadLetterStore({
      link: running.link,
      deadLetterQueue: config.DEAD_LETTER_QUEUE,
      workQueue: config.MAILER_QUEUE,
      replayRatePerSecond: config.REPLAY_RATE_PER_SECOND,
      confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
      logger,
    });
  })();
  // Handled by whoever awaits `started` (runMain exits 1); never an unhandled rejection here.
  started.catch(() => undefined);

  let stopped: Promise<void> | null = null;
  return {
    port: http.port,
    started,
    isReady: () => consumerReady() && transport.state() === 'ready' && databaseReady(),
    stop() {
      stopped ??= (async () => {
        startup.abort();
        await started.catch(() => undefined);
        clearInterval(dependencyMonitor);
        clearInterval(smtpMonitor);
        await consumer?.stop();
        transport.close();
        await http.close(config.SHUTDOWN_TIMEOUT_MS);
        await database.close();
      })();
      return stopped;
    },
  };
}
