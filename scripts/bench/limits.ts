// The limits of this machine, each measured fresh in the benchmark's own run: what raw amqplib,
// raw pooled nodemailer and a no-op express 5 app reach here, the ceilings the services are read
// against. Rates are per second, sizes bytes.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as amqp from 'amqplib';
import nodemailer from 'nodemailer';
import type { OrderInput } from '@order-mail/shared/contract';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { composeOrderEmail } from '../../services/mailer/src/domain/compose-order-email';
import { composeDepsFromConfig } from '../../services/mailer/src/service';
import { sampleEvent } from '../../test/helpers/orders';
import { runAutocannon } from './load';
import { startScript } from './sink-process';
import type { HttpLoadResult, RateResult, SmtpSink } from './types';

/** The sender of the bench's emails, as test/helpers/stack.ts `mailerEnv` sets MAIL_FROM. */
const MAIL_FROM = 'Test Shop <orders@shop.example>';

async function timed(count: number, work: () => Promise<void>): Promise<RateResult> {
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

/** A fresh quorum queue of the bench's own (`bench.limits.<hex>`), durable as the mailer's are. */
async function declareQueue(channel: amqp.Channel): Promise<string> {
  const queue = `bench.limits.${randomBytes(4).toString('hex')}`;
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  return queue;
}

/** Opens a connection and a confirm channel, runs `work` with a fresh quorum queue, then deletes the queue and closes. */
async function withQueue<T>(
  amqpUrl: string,
  work: (connection: amqp.ChannelModel, channel: amqp.ConfirmChannel, queue: string) => Promise<T>,
): Promise<T> {
  const connection = await amqp.connect(amqpUrl);
  // A broker error also closes the connection or channel, which the work in progress turns into a rejection.
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    const queue = await declareQueue(channel);
    try {
      return await work(connection, channel, queue);
    } finally {
      const cleanup = await connection.createChannel();
      await cleanup.deleteQueue(queue);
    }
  } finally {
    await connection.close();
  }
}

/**
 * Publishes `count` persistent copies of `body` to `queue` with at most `window` unconfirmed:
 * each confirm lets the next publish go. Resolves when all are confirmed; rejects on a nack.
 */
async function publishWindowed(
  channel: amqp.ConfirmChannel,
  queue: string,
  body: Buffer,
  count: number,
  window: number,
): Promise<void> {
  let outstanding = 0;
  let failure: Error | undefined;
  let wake = () => undefined as void;
  const confirmed = (err: unknown) => {
    outstanding -= 1;
    if (err) failure ??= new Error(`the broker refused a publish: ${String(err)}`);
    wake();
  };
  channel.once('close', () => {
    failure ??= new Error('the channel closed while publishing');
    wake();
  });
  for (let i = 0; i < count && !failure; i++) {
    while (outstanding >= window && !failure) await new Promise<void>((resolve) => (wake = resolve));
    outstanding += 1;
    if (!channel.sendToQueue(queue, body, { persistent: true }, confirmed)) await once(channel, 'drain');
  }
  if (!failure) await channel.waitForConfirms();
  if (failure) throw failure;
}

/**
 * Raw amqplib publishing, the ceiling of the order API's publisher: a confirm channel publishes
 * `count` persistent messages of `bodyBytes` bytes to a fresh quorum queue through the default
 * exchange, with at most `window` unconfirmed at a time. Timed from the first publish to the last
 * confirm; the queue is declared before and deleted after, untimed.
 */
export async function rawPublishRate(
  amqpUrl: string,
  count: number,
  bodyBytes: number,
  window = 500,
): Promise<RateResult> {
  const body = Buffer.alloc(bodyBytes, 'x');
  return withQueue(amqpUrl, (_connection, channel, queue) =>
    timed(count, () => publishWindowed(channel, queue, body, count, window)),
  );
}

/** Consumes `queue` with manual ack at `prefetch`, acking each message at once, until `count` are acked. */
async function consumeAll(channel: amqp.Channel, queue: string, count: number, prefetch: number): Promise<void> {
  await channel.prefetch(prefetch);
  let acked = 0;
  let consumerTag: string | undefined;
  await new Promise<void>((resolve, reject) => {
    channel.once('close', () => reject(new Error('the channel closed while consuming')));
    channel
      .consume(queue, (message) => {
        if (message === null) return reject(new Error('the broker cancelled the consumer'));
        channel.ack(message);
        if (++acked === count) resolve();
      })
      .then((reply) => (consumerTag = reply.consumerTag), reject);
  });
  // A round trip after the last ack: the broker answers it only once it has taken every ack.
  await channel.checkQueue(queue);
  if (consumerTag !== undefined) await channel.cancel(consumerTag);
}

/**
 * Raw amqplib consuming, the ceiling of the mailer's consumer: fills a fresh quorum queue with
 * `count` persistent messages of `bodyBytes` bytes (untimed), then consumes them with manual ack
 * at `prefetch`, each acked as soon as it arrives. Timed from the consume to the broker having
 * taken the last ack; the queue is deleted after.
 */
export async function rawConsumeRate(
  amqpUrl: string,
  count: number,
  bodyBytes: number,
  prefetch = 50,
): Promise<RateResult> {
  const body = Buffer.alloc(bodyBytes, 'x');
  return withQueue(amqpUrl, async (connection, publisher, queue) => {
    await publishWindowed(publisher, queue, body, count, 500);
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return timed(count, () => consumeAll(channel, queue, count, prefetch));
  });
}

/**
 * A confirmation email as the mailer renders it, for the raw SMTP limit: the real templates and
 * catalogues (`composeDepsFromConfig`, `composeOrderEmail`) with MAIL_FROM as the bench's mailers
 * have it, for an event of `order` (the bench passes its `benchOrder`, the order it posts).
 * `bytes` is the HTML's size in bytes (UTF-8). Compiles the templates: a second or two.
 */
export async function sampleEmailBody(order: OrderInput): Promise<{ html: string; text: string; bytes: number }> {
  const deps = await composeDepsFromConfig(loadMailerConfig({ MAIL_FROM }));
  const { html, text } = composeOrderEmail(sampleEvent({ order }), deps);
  return { html, text, bytes: Buffer.byteLength(html) };
}

/**
 * Raw pooled nodemailer into the sink, the ceiling of the mailer's SMTP side: one pooled
 * transport (`pool: true`, `maxConnections: poolSize`, otherwise nodemailer's defaults, as the
 * mailer's) sends `count` emails of the given HTML and text, each with its own order id (as
 * `X-Order-Id` and in the subject), keeping at most `poolSize × 2` sends under way. Resets the
 * sink first; timed from the first send until every send has resolved (connecting included); then
 * checks that the sink counted `count` messages, and rejects if not.
 */
export async function rawSmtpRate(
  sink: SmtpSink,
  count: number,
  options: { html: string; text: string; poolSize: number },
): Promise<RateResult> {
  await sink.reset();
  const transport = nodemailer.createTransport({ url: sink.url, pool: true, maxConnections: options.poolSize });
  const prefix = `raw${randomBytes(4).toString('hex')}-`;
  let next = 0;
  const sendNext = async () => {
    while (next < count) {
      const orderId = `${prefix}${next++}`;
      await transport.sendMail({
        from: MAIL_FROM,
        to: 'Ada Lovelace <ada@example.com>',
        subject: `Your order ${orderId} is confirmed`,
        messageId: `<${orderId}@shop.example>`,
        html: options.html,
        text: options.text,
        headers: { 'X-Order-Id': orderId },
      });
    }
  };
  try {
    const inFlight = Math.min(count, options.poolSize * 2);
    const rate = await timed(count, async () => {
      await Promise.all(Array.from({ length: inFlight }, sendNext));
    });
    const { count: arrived } = await sink.stats();
    if (arrived !== count) throw new Error(`raw SMTP: ${count} sent, but the sink counted ${arrived}`);
    return rate;
  } finally {
    transport.close();
  }
}

/**
 * An express 5 no-op under the order API's load, the ceiling of the order API's HTTP side:
 * noop-server.ts (`express.json()`, `POST /orders` → 202 `{}`) as its own process, loaded by
 * `runAutocannon` on `connections` connections for `durationSeconds` with `body` (the very
 * JSON body the order API is loaded with, so both parse the same bytes) and a Bearer token as
 * long as the API's keys.
 */
export async function expressNoopRate(
  connections: number,
  durationSeconds: number,
  body: string,
): Promise<HttpLoadResult> {
  const server = await startScript('noop-server.ts');
  try {
    return await runAutocannon({
      url: `http://127.0.0.1:${Number(server.ready.port)}/orders`,
      method: 'POST',
      headers: { authorization: `Bearer ${randomBytes(32).toString('hex')}` },
      body,
      uniqueIds: true,
      connections,
      durationSeconds,
      expectStatus: 202,
    });
  } finally {
    await server.stop();
  }
}
