import { randomBytes } from 'node:crypto';
import type { Logger } from '@order-mail/shared/logger';
import {
  mailerQueueNames,
  mailerTopologyFromConfig,
  type MailerTopology,
} from '../../services/mailer/src/adapters/broker/mailer-topology';
import { loadMailerConfig, type MailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { loadOrderApiConfig } from '../../services/order-api/src/config';
import { startOrderApi, type RunningOrderApi } from '../../services/order-api/src/service';
import { AMQP_URL, connectTestBroker, eventually } from './broker';
import { DATABASE_URL, dropSchema } from './database';
import { uniqueName } from './names';
import { postJson, TEST_API_KEY, TEST_API_KEY_ENV } from './orders';

export interface StackNames {
  exchange: string;
  queue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  /** The delivery events' topic exchange (MAIL_EVENTS_EXCHANGE). */
  mailEventsExchange: string;
  schema: string;
  /** Every queue the mailer declares, retry and hold queues included. */
  queues: string[];
}

export interface TestStack {
  names: StackNames;
  mailerConfig: MailerConfig;
  /** The environment the mailer was configured from: start another mailer on the same queues and ledger with it. */
  mailerEnv: Record<string, string>;
  api: RunningOrderApi;
  mailer: RunningMailer;
  apiUrl: string;
  mailerUrl: string;
  /** `TEST_API_KEY`, which the order API accepts unless `env` sets ORDER_API_KEYS or ORDER_API_AUTH=off. */
  apiKey: string;
  /** POSTs `order` to the order API's `/orders` with `apiKey` (or the `authorization` in `headers`). */
  postOrder(order: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Stops both services, the order API first, then the mailer (which finishes its sends); at most once. */
  stop(): Promise<void>;
  /**
   * Takes down everything the stack started, at most once: `stop()`, then its queues, exchanges and
   * ledger schema (`deleteStackTopology`). Each step runs even if an earlier one failed; the failures
   * are thrown at the end. `startTestStack` does the same itself when start-up fails half-way. The
   * SMTP server is the test's own: close it after this, so the mailer's last sends can finish.
   */
  dispose(): Promise<void>;
}

/** Short retry delays and timeouts, through the same code as production's defaults. */
export const FAST_MAILER_ENV = {
  RETRY_DELAYS: '300ms,300ms,300ms,300ms,300ms',
  SMTP_CONNECTION_TIMEOUT_MS: '1000',
  SMTP_GREETING_TIMEOUT_MS: '1000',
  SMTP_SOCKET_TIMEOUT_MS: '3000',
  SMTP_SEND_TIMEOUT_MS: '5000',
  UNKNOWN_OUTCOME_GRACE_MS: '6000',
};

/** Exchange, queue and schema names no other test uses. */
export function uniqueStackNames(): Omit<StackNames, 'queues'> {
  return {
    exchange: uniqueName('orders'),
    queue: uniqueName('mailer.order.confirmed'),
    deadLetterExchange: uniqueName('mailer.dead-letter'),
    deadLetterQueue: uniqueName('mailer.order.confirmed.dead'),
    mailEventsExchange: uniqueName('mail.events'),
    schema: `test_${randomBytes(4).toString('hex')}`,
  };
}

/**
 * The admin token `mailerEnv` gives every test mailer (the admin API is off without one); a test
 * that needs it off passes `ADMIN_TOKEN: ''` (blank means unset).
 */
export const TEST_ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

/** The header the admin API and `npm run dlq` (as `ADMIN_TOKEN`) need with `TEST_ADMIN_TOKEN`. */
export const ADMIN_AUTH = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/** The environment `npm run dlq` needs to reach a test mailer's admin API. */
export const DLQ_CLI_ENV = { ADMIN_TOKEN: TEST_ADMIN_TOKEN };

/** The mailer's environment for a test: its own names, fast timings, quiet logs, the admin token. */
export function mailerEnv(names: Omit<StackNames, 'queues'>, smtpUrl: string, env: Record<string, string> = {}) {
  return {
    AMQP_URL,
    DATABASE_URL,
    PORT: '0',
    LOG_LEVEL: 'silent',
    ORDERS_EXCHANGE: names.exchange,
    MAILER_QUEUE: names.queue,
    DEAD_LETTER_EXCHANGE: names.deadLetterExchange,
    DEAD_LETTER_QUEUE: names.deadLetterQueue,
    MAIL_EVENTS_EXCHANGE: names.mailEventsExchange,
    DATABASE_SCHEMA: names.schema,
    SMTP_URL: smtpUrl,
    MAIL_FROM: 'Test Shop <orders@shop.example>',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...FAST_MAILER_ENV,
    ...env,
  };
}

/** The topology a mailer with these names (and `env`) declares, as `startMailer` derives it from its config. */
export function mailerTopologyFor(names: Omit<StackNames, 'queues'>, env: Record<string, string> = {}): MailerTopology {
  return mailerTopologyFromConfig(loadMailerConfig(mailerEnv(names, 'smtp://127.0.0.1:1', env)));
}

/** Every queue a mailer with these names (and `env`) declares. */
export function mailerQueueNamesFor(names: Omit<StackNames, 'queues'>, env: Record<string, string> = {}): string[] {
  return mailerQueueNames(mailerTopologyFor(names, env));
}

/** Both services in-process, on port 0, on exchange, queue and schema names of their own. */
export async function startTestStack(options: {
  smtpUrl: string;
  env?: Record<string, string>;
  /** The mailer's logger (e.g. a capturing one); its own, silent by default. */
  mailerLogger?: Logger;
}): Promise<TestStack> {
  const environment = mailerEnv(uniqueStackNames(), options.smtpUrl, options.env);
  const mailerConfig = loadMailerConfig(environment);
  // The names the mailer really uses (`env` may override the random ones, e.g. MAILER_QUEUE), so
  // that `dispose()` deletes what was declared.
  const base = {
    exchange: environment.ORDERS_EXCHANGE,
    queue: environment.MAILER_QUEUE,
    deadLetterExchange: environment.DEAD_LETTER_EXCHANGE,
    deadLetterQueue: environment.DEAD_LETTER_QUEUE,
    mailEventsExchange: environment.MAIL_EVENTS_EXCHANGE,
    schema: environment.DATABASE_SCHEMA,
  };
  const names: StackNames = { ...base, queues: mailerQueueNamesFor(base, options.env) };
  // The key unless the test switches authentication off or brings keys of its own.
  const keys = options.env?.ORDER_API_AUTH === 'off' ? {} : TEST_API_KEY_ENV;
  const common: Record<string, string> = {
    AMQP_URL,
    ORDERS_EXCHANGE: names.exchange,
    LOG_LEVEL: 'silent',
    PORT: '0',
    ...keys,
    ...options.env,
  };
  let mailer: RunningMailer | undefined;
  let api: RunningOrderApi | undefined;
  // The API first: nothing new is published while the mailer drains; the topology once both are down.
  const stop = once(() => runEach([() => api?.stop(), () => mailer?.stop()]));
  const dispose = once(() => runEach([stop, () => deleteStackTopology(names)]));
  try {
    // The mailer first: it declares the queue the API's mandatory publishes must reach.
    mailer = await startMailer(mailerConfig, options.mailerLogger);
    api = await startOrderApi(loadOrderApiConfig(common));
    const services = [mailer, api];
    await eventually(() => services.every((service) => service.isReady()), 15000, 'both services ready');
  } catch (error) {
    // Half started: take down what did start, and report why start-up failed (not a teardown failure).
    await dispose().catch(() => undefined);
    throw error;
  }
  const apiUrl = `http://127.0.0.1:${api.port}`;
  const apiKey = TEST_API_KEY;
  return {
    names,
    mailerConfig,
    mailerEnv: environment,
    api,
    mailer,
    apiUrl,
    mailerUrl: `http://127.0.0.1:${mailer.port}`,
    apiKey,
    postOrder: (order, headers = {}) =>
      postJson(apiUrl, '/orders', order, { authorization: `Bearer ${apiKey}`, ...headers }),
    stop,
    dispose,
  };
}

/** `run` on the first call; later calls get the first call's promise. */
function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= run());
}

/** Runs every step in order, even after one fails; then throws the failure (an AggregateError if several). */
async function runEach(steps: (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} teardown steps failed`);
}

/** Deletes a stack's queues, exchanges and ledger schema. */
export async function deleteStackTopology(names: StackNames): Promise<void> {
  await dropSchema(names.schema);
  const { connection, channel } = await connectTestBroker();
  try {
    for (const queue of names.queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(names.exchange);
    await channel.deleteExchange(names.deadLetterExchange);
    await channel.deleteExchange(names.mailEventsExchange);
  } finally {
    await connection.close();
  }
}
