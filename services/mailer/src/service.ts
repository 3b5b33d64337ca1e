import {
  createLogger,
  createMetricsRegistry,
  createUpGauge,
  listenHttp,
  readinessCheck,
  type Logger,
} from '@order-mail/shared';
import type { MailerConfig } from './config';
import { createDeadLetterStore } from './adapters/broker/dead-letter-store';
import { createDatabase, migrate } from './adapters/db/database';
import { createPgDeliveryLedger } from './adapters/db/delivery-ledger-pg';
import { createMailerMetrics } from './adapters/metrics/mailer-metrics';
import { createSmtpTransport } from './adapters/smtp/smtp-transport';
import { compileTemplates } from './adapters/templates/template-renderer';
import { createMailWorker } from './domain/mail-worker';
import type { RetrySchedule } from './domain/retry-policy';
import { createMailerApp } from './entry-points/http/app';
import { startOrderConfirmedConsumer } from './entry-points/queue/order-confirmed-consumer';

export interface RunningMailer {
  port: number;
  isReady(): boolean;
  /** Cancels the consumer, finishes and acks in-flight sends, closes broker, SMTP pool and database. */
  stop(): Promise<void>;
}

const DEPENDENCY_RECHECK_MS = 5000;
const RETRY_AFTER_SECONDS = 5;

export async function startMailer(
  config: MailerConfig,
  logger: Logger = createLogger({ service: 'mailer', level: config.LOG_LEVEL }),
): Promise<RunningMailer> {
  const registry = createMetricsRegistry('mailer');
  const templates = await compileTemplates();
  // The ledger must be in place before the first message is taken: migrations run first.
  const database = createDatabase({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, logger });
  try {
    await migrate(database.pool, config.DATABASE_SCHEMA, logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  const ledger = createPgDeliveryLedger(database.pool);

  const transport = createSmtpTransport({
    url: config.SMTP_URL,
    maxConnections: config.SMTP_POOL_SIZE,
    connectionTimeoutMs: config.SMTP_CONNECTION_TIMEOUT_MS,
    greetingTimeoutMs: config.SMTP_GREETING_TIMEOUT_MS,
    socketTimeoutMs: config.SMTP_SOCKET_TIMEOUT_MS,
    sendTimeoutMs: config.SMTP_SEND_TIMEOUT_MS,
    logger,
  });
  // Readiness reflects the SMTP server and the database: checked now, then every few seconds.
  const checkSmtp = () =>
    transport.verify().catch((err: unknown) => {
      const state = transport.state();
      if (state === 'auth_failed') logger.error({ err }, 'SMTP server refused our credentials');
      else logger.warn({ err }, 'SMTP server not reachable');
    });
  void checkSmtp();
  const dependencyMonitor = setInterval(() => {
    if (transport.state() !== 'ready') void checkSmtp();
    void database.check();
  }, DEPENDENCY_RECHECK_MS);
  dependencyMonitor.unref();

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
  let consumerRef: { inFlight(): number } | null = null;
  const metrics = createMailerMetrics(registry, {
    retryAttempts: config.RETRY_DELAYS.length,
    inFlight: () => consumerRef?.inFlight() ?? 0,
  });
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
  const consumer = await startOrderConfirmedConsumer({
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
  consumerRef = consumer;
  createUpGauge(
    registry,
    'broker_connected',
    'Whether the broker connection, topology and consumer are up (1) or not (0).',
    consumer.isReady,
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
    "Whether the ledger's PostgreSQL answers (1) or not (0).",
    database.isReady,
  );
  if (config.FAULT_PAUSE_BEFORE_ACK_MS) {
    logger.warn(
      { pauseMs: config.FAULT_PAUSE_BEFORE_ACK_MS },
      'FAULT_PAUSE_BEFORE_ACK_MS is set: test-only fault injection is on',
    );
  }
  const deadLetters = createDeadLetterStore({
    link: consumer.link,
    deadLetterQueue: config.DEAD_LETTER_QUEUE,
    workQueue: config.MAILER_QUEUE,
    replayRatePerSecond: config.REPLAY_RATE_PER_SECOND,
    confirmTimeoutMs: config.PUBLISH_CONFIRM_TIMEOUT_MS,
    logger,
  });
  const app = createMailerApp({
    registry,
    checks: [
      readinessCheck('broker', consumer.isReady),
      { name: 'smtp', status: () => (transport.state() === 'ready' ? 'ready' : transport.state()) },
      readinessCheck('database', database.isReady),
    ],
    ledger,
    deadLetters,
    logger,
    adminToken: config.ADMIN_TOKEN,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
  const http = await listenHttp(app, config.PORT);
  logger.info({ port: http.port, queue: config.MAILER_QUEUE }, 'mailer listening');

  let stopped: Promise<void> | null = null;
  return {
    port: http.port,
    isReady: () => consumer.isReady() && transport.state() === 'ready' && database.isReady(),
    stop() {
      stopped ??= (async () => {
        clearInterval(dependencyMonitor);
        await consumer.stop();
        transport.close();
        await http.close(config.SHUTDOWN_TIMEOUT_MS);
        await database.close();
      })();
      return stopped;
    },
  };
}
