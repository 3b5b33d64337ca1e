import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { loadOrderApiConfig } from '../../services/order-api/src/config';
import { startOrderApi, type RunningOrderApi } from '../../services/order-api/src/service';
import { AMQP_URL, connectTestBroker, eventually } from './broker';
import { uniqueName } from './names';

export interface TestStack {
  names: { exchange: string; queue: string; deadLetterExchange: string; deadLetterQueue: string };
  api: RunningOrderApi;
  mailer: RunningMailer;
  apiUrl: string;
  mailerUrl: string;
  /** Stops both services and deletes this stack's queues and exchanges. */
  stop(): Promise<void>;
}

/** Both services in-process, on port 0, on exchange and queue names of their own. */
export async function startTestStack(options: { smtpUrl: string; env?: Record<string, string> }): Promise<TestStack> {
  const names = {
    exchange: uniqueName('orders'),
    queue: uniqueName('mailer.order.confirmed'),
    deadLetterExchange: uniqueName('mailer.dead-letter'),
    deadLetterQueue: uniqueName('mailer.order.confirmed.dead'),
  };
  const common = { AMQP_URL, ORDERS_EXCHANGE: names.exchange, LOG_LEVEL: 'silent', PORT: '0', ...options.env };
  // The mailer first: it declares the queue the API's mandatory publishes must reach.
  const mailer = await startMailer(
    loadMailerConfig({
      ...common,
      MAILER_QUEUE: names.queue,
      DEAD_LETTER_EXCHANGE: names.deadLetterExchange,
      DEAD_LETTER_QUEUE: names.deadLetterQueue,
      SMTP_URL: options.smtpUrl,
      MAIL_FROM: 'Test Shop <orders@shop.example>',
    }),
  );
  const api = await startOrderApi(loadOrderApiConfig(common));
  await eventually(() => mailer.isReady() && api.isReady(), 15000, 'both services ready');
  let stopped = false;
  return {
    names,
    api,
    mailer,
    apiUrl: `http://127.0.0.1:${api.port}`,
    mailerUrl: `http://127.0.0.1:${mailer.port}`,
    async stop() {
      if (!stopped) {
        stopped = true;
        await api.stop();
        await mailer.stop();
      }
    },
  };
}

/** Deletes a stack's queues and exchanges. */
export async function deleteStackTopology(names: TestStack['names']): Promise<void> {
  const { connection, channel } = await connectTestBroker();
  try {
    await channel.deleteQueue(names.queue);
    await channel.deleteQueue(names.deadLetterQueue);
    await channel.deleteExchange(names.exchange);
    await channel.deleteExchange(names.deadLetterExchange);
  } finally {
    await connection.close();
  }
}
