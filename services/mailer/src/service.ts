import { createLogger, createMetricsRegistry, listenHttp, type Logger } from '@order-mail/shared';
import type { MailerConfig } from './config';
import { createSmtpTransport } from './adapters/smtp/smtp-transport';
import { compileTemplates } from './adapters/templates/template-renderer';
import { createMailWorker } from './domain/mail-worker';
import { startOrderConfirmedConsumer } from './entry-points/queue/order-confirmed-consumer';
import { createMailerApp } from './entry-points/http/app';

export interface RunningMailer {
  port: number;
  isReady(): boolean;
  /** Cancels the consumer, finishes and acks in-flight sends, closes broker and SMTP pool. */
  stop(): Promise<void>;
}

const SMTP_RECHECK_MS = 5000;

export async function startMailer(
  config: MailerConfig,
  logger: Logger = createLogger({ service: 'mailer', level: config.LOG_LEVEL }),
): Promise<RunningMailer> {
  const registry = createMetricsRegistry('mailer');
  const templates = await compileTemplates();
  const transport = createSmtpTransport({
    url: config.SMTP_URL,
    maxConnections: config.SMTP_POOL_SIZE,
    connectionTimeoutMs: config.SMTP_CONNECTION_TIMEOUT_MS,
    greetingTimeoutMs: config.SMTP_GREETING_TIMEOUT_MS,
    socketTimeoutMs: config.SMTP_SOCKET_TIMEOUT_MS,
    logger,
  });
  // Readiness reflects the SMTP server: checked now and again while it is failing.
  const checkSmtp = () => transport.verify().catch((err: unknown) => logger.warn({ err }, 'SMTP server not reachable'));
  void checkSmtp();
  const smtpMonitor = setInterval(() => {
    if (!transport.isReady()) void checkSmtp();
  }, SMTP_RECHECK_MS);
  smtpMonitor.unref();

  const worker = createMailWorker({
    transport,
    templates,
    logger,
    mailFrom: config.MAIL_FROM,
    messageIdDomain: config.MESSAGE_ID_DOMAIN,
  });
  const consumer = await startOrderConfirmedConsumer({
    amqpUrl: config.AMQP_URL,
    topology: {
      ordersExchange: config.ORDERS_EXCHANGE,
      routingKey: config.ORDER_CONFIRMED_ROUTING_KEY,
      workQueue: config.MAILER_QUEUE,
      deadLetterExchange: config.DEAD_LETTER_EXCHANGE,
      deadLetterQueue: config.DEAD_LETTER_QUEUE,
      deliveryLimit: config.DELIVERY_LIMIT,
    },
    prefetch: config.PREFETCH,
    retryDelayMs: config.RETRY_DELAY_MS,
    workerId: config.WORKER_ID,
    worker,
    logger,
  });
  const app = createMailerApp({
    registry,
    checks: [
      { name: 'broker', isReady: consumer.isReady },
      { name: 'smtp', isReady: transport.isReady },
    ],
  });
  const http = await listenHttp(app, config.PORT);
  logger.info({ port: http.port, queue: config.MAILER_QUEUE }, 'mailer listening');

  return {
    port: http.port,
    isReady: () => consumer.isReady() && transport.isReady(),
    async stop() {
      clearInterval(smtpMonitor);
      await consumer.stop();
      transport.close();
      await http.close(config.SHUTDOWN_TIMEOUT_MS);
    },
  };
}
