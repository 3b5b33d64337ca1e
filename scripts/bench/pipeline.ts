// The pipeline's figures: the order API under load, the mailer draining a backlog (1..N
// processes), the end-to-end latency at a steady rate, and the naive baseline, each on the
// benchmark's own exchange, queue and schema names (`benchNames`, removed by `cleanup`), with the
// services started from their production build (`startService`).
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { Client } from 'pg';
import type { OrderConfirmedEvent, OrderInput } from '@order-mail/shared/contract';
import { publishOptionsOf } from '../../services/order-api/src/adapters/broker/order-event-publisher';
import {
  declareMailerTopology,
  mailerQueueNames,
  mailerTopologyFromConfig,
  type MailerTopology,
} from '../../services/mailer/src/adapters/broker/mailer-topology';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { AMQP_URL } from '../../test/helpers/broker';
import { DATABASE_URL } from '../../test/helpers/database';
import { sampleEvent, sampleFullOrder } from '../../test/helpers/orders';
import { runAutocannon } from './load';
import { spawnBenchProcess, startService, stopAll, type ServiceProcess } from './processes';
import type { BenchProcess, HttpLoadResult, Progress, RateResult, SmtpSink } from './types';

/** The exchange, queues and ledger schema of one benchmark run; `cleanup` removes them. */
export interface BenchNames {
  exchange: string;
  queue: string;
  deadLetterExchange: string;
  mailEventsExchange: string;
  deadLetterQueue: string;
  schema: string;
}

/** The key the benchmark's order API accepts (random per run, 64 hex digits). */
const API_KEY = randomBytes(32).toString('hex');
/** The mailer's admin token (the admin API is on, as in production; the benchmark does not use it). */
const ADMIN_TOKEN = randomBytes(16).toString('hex');
const MAIL_FROM = 'Bench Shop <orders@shop.example>';
/** How long a drain may go without a new email before it is given up as stalled. */
const STALL_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fresh names for one run: `bench.<what>.<8 hex>` for the broker, `bench_<8 hex>` for the schema. */
export function benchNames(): BenchNames {
  const tag = randomBytes(4).toString('hex');
  return {
    exchange: `bench.orders.${tag}`,
    queue: `bench.mailer.order.confirmed.${tag}`,
    deadLetterExchange: `bench.mailer.dead-letter.${tag}`,
    mailEventsExchange: `bench.mail.events.${tag}`,
    deadLetterQueue: `bench.mailer.order.confirmed.dead.${tag}`,
    schema: `bench_${tag}`,
  };
}

/**
 * A mailer's environment on `names`, sending to `smtpUrl`: production defaults (retry delays,
 * timeouts, PREFETCH 10, SMTP_POOL_SIZE 5) unless `overrides` (e.g. PREFETCH, SMTP_POOL_SIZE)
 * say otherwise; logs at `warn`.
 */
export function benchMailerEnv(
  names: BenchNames,
  smtpUrl: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    AMQP_URL,
    DATABASE_URL,
    LOG_LEVEL: 'warn',
    ORDERS_EXCHANGE: names.exchange,
    MAILER_QUEUE: names.queue,
    DEAD_LETTER_EXCHANGE: names.deadLetterExchange,
    MAIL_EVENTS_EXCHANGE: names.mailEventsExchange,
    DEAD_LETTER_QUEUE: names.deadLetterQueue,
    DATABASE_SCHEMA: names.schema,
    SMTP_URL: smtpUrl,
    MAIL_FROM,
    ADMIN_TOKEN,
    ...overrides,
  };
}

/** The order API's environment on `names`: authentication on (one random key), a rate limit no run reaches, logs at `warn`. */
function orderApiEnv(names: BenchNames): Record<string, string> {
  return {
    AMQP_URL,
    ORDERS_EXCHANGE: names.exchange,
    LOG_LEVEL: 'warn',
    ORDER_API_KEYS: API_KEY,
    ORDER_API_RATE_LIMIT: String(Number.MAX_SAFE_INTEGER),
  };
}

/**
 * The topology a bench mailer on `names` declares (as the mailer derives it from its config),
 * with `overrides` of its environment (the hold and retry queues are named after
 * UNKNOWN_OUTCOME_GRACE_MS and RETRY_DELAYS).
 */
export function topologyOf(names: BenchNames, overrides: Record<string, string> = {}): MailerTopology {
  return mailerTopologyFromConfig(loadMailerConfig(benchMailerEnv(names, 'smtp://127.0.0.1:1', overrides)));
}

/**
 * The order every part of the benchmark sends (preloaded events, autocannon's body, the latency
 * run's posts): `sampleFullOrder` (two items with variants and images, both addresses,
 * shipping, a discount, included VAT, a payment method) under `orderId`.
 */
export function benchOrder(orderId: string): OrderInput {
  return sampleFullOrder({ orderId, orderUrl: `https://shop.example/orders/${orderId}` });
}

/**
 * The JSON body autocannon posts to the order API and to the express no-op alike: a `benchOrder`
 * whose id holds autocannon's `[<id>]` placeholder (each request gets its own id with `uniqueIds`).
 */
export function orderApiBody(): string {
  return JSON.stringify(benchOrder('A-[<id>]'));
}

/** Runs each step even when an earlier one failed; then throws the first failure, if any. */
async function runEach(steps: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((err: unknown) => failures.push(err));
  if (failures.length > 0) throw failures[0];
}

/** A connection with listeners on it (an unhandled 'error' would end the process) and a plain channel. */
async function connect(amqpUrl: string): Promise<{ connection: amqp.ChannelModel; channel: amqp.Channel }> {
  const connection = await amqp.connect(amqpUrl);
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  return { connection, channel };
}

/**
 * Declares the mailer's exchanges and queues for `names` exactly as the mailer does
 * (`declareMailerTopology` of `mailerTopologyFromConfig(loadMailerConfig(env))`), so that the
 * order API's mandatory publishes route before any mailer has started.
 */
export async function declareBenchTopology(amqpUrl: string, names: BenchNames): Promise<void> {
  const { connection, channel } = await connect(amqpUrl);
  try {
    await declareMailerTopology(channel, topologyOf(names));
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Empties the work queue of `names` (left-overs of a failed or unconsumed run); no-op if it does not exist. */
export async function purgeWorkQueue(names: BenchNames, amqpUrl: string = AMQP_URL): Promise<void> {
  const { connection, channel } = await connect(amqpUrl);
  try {
    await channel.checkQueue(names.queue);
    await channel.purgeQueue(names.queue);
  } catch {
    // No such queue (checkQueue closed the channel): nothing to purge.
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Drops the ledger schema of `names` (a mailer starting later migrates a fresh one). */
async function dropSchema(names: BenchNames): Promise<void> {
  const client = new Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${names.schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Removes everything `names` stands for: every queue the mailer declares (work, dead-letter,
 * retry and hold queues, with the default settings and with `overrides`, the mailer environment
 * a step ran with), both exchanges and the ledger schema. Each step runs even when an earlier one
 * failed; the first failure is thrown at the end. Idempotent.
 */
export async function cleanup(names: BenchNames, overrides: Record<string, string> = {}): Promise<void> {
  const { connection } = await connect(AMQP_URL);
  // One channel per deletion: a failed one closes its channel.
  const onChannel = (op: (ch: amqp.Channel) => Promise<unknown>) => async () => {
    const ch = await connection.createChannel();
    ch.on('error', () => undefined);
    await op(ch);
    await ch.close().catch(() => undefined);
  };
  try {
    await runEach([
      ...[...new Set([...mailerQueueNames(topologyOf(names)), ...mailerQueueNames(topologyOf(names, overrides))])].map(
        (q) => onChannel((ch) => ch.deleteQueue(q)),
      ),
      onChannel((ch) => ch.deleteExchange(names.exchange)),
      onChannel((ch) => ch.deleteExchange(names.deadLetterExchange)),
      onChannel((ch) => ch.deleteExchange(names.mailEventsExchange)),
      () => dropSchema(names),
    ]);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * The message properties the order API publishes an event with (its own `publishOptionsOf`), and
 * `mandatory`, which its confirmed publisher adds: the backlog is what the API would have sent.
 */
function publishOptions(event: OrderConfirmedEvent): amqp.Options.Publish {
  return { ...publishOptionsOf(event), mandatory: true, appId: 'bench' };
}

/**
 * Declares the mailer's topology for `names` (`declareBenchTopology`) and publishes `count` valid
 * order-confirmed events (`sampleEvent` of `benchOrder('<idPrefix>-<n>')`, n = 1..count;
 * `idPrefix` 'B' unless given) to the orders exchange with routing key `order.confirmed`,
 * persistent and mandatory, as the order API publishes them, waiting for the broker's confirms
 * every `window` (default 1000) messages. Rejects if a message is returned (unroutable) or nacked.
 * Not timed; `progress` gets a line every window.
 */
export async function preloadBacklog(
  amqpUrl: string,
  names: BenchNames,
  count: number,
  progress: Progress = () => undefined,
  options: { idPrefix?: string; window?: number } = {},
): Promise<void> {
  const { idPrefix = 'B', window = 1000 } = options;
  const topology = topologyOf(names);
  await declareBenchTopology(amqpUrl, names);
  const connection = await amqp.connect(amqpUrl);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    let returned = 0;
    channel.on('return', () => returned++);
    for (let n = 1; n <= count; n++) {
      const event = sampleEvent({ order: benchOrder(`${idPrefix}-${n}`), correlationId: `bench-${idPrefix}-${n}` });
      const body = Buffer.from(JSON.stringify(event));
      if (!channel.publish(topology.ordersExchange, topology.routingKey, body, publishOptions(event))) {
        await new Promise((resolve) => channel.once('drain', resolve));
      }
      if (n % window === 0 || n === count) {
        await channel.waitForConfirms();
        progress(`preloading the backlog: ${n}/${count} events`);
      }
    }
    if (returned > 0) throw new Error(`${returned} preloaded events were unroutable (returned by the broker)`);
    await channel.close();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** What `waitForSink` saw: the sink's stats at the end and each watched process's largest RSS. */
interface SinkWait {
  count: number;
  firstAt: number;
  lastAt: number;
  arrivals: Record<string, number>;
  peakRss: number[];
}

/**
 * Polls `sink.stats()` (every 250 ms, every second above 5,000: each answer holds every arrival) until it has `target` messages, reporting progress as
 * `<label>: n/target emails (rate/s)` and sampling the RSS of `processes`. Rejects, with the
 * processes' output, when one of them exits, or when no new email arrives for `stallMs`.
 */
async function waitForSink(
  sink: SmtpSink,
  target: number,
  processes: readonly BenchProcess[],
  report: { label: string; progress: Progress; stallMs?: number },
): Promise<SinkWait> {
  const peakRss = processes.map(() => 0);
  let last = { count: -1, at: Date.now() };
  for (;;) {
    const stats = await sink.stats();
    processes.forEach((p, i) => (peakRss[i] = Math.max(peakRss[i], p.rss())));
    if (stats.count >= target && stats.firstAt !== null && stats.lastAt !== null) {
      return { count: stats.count, firstAt: stats.firstAt, lastAt: stats.lastAt, arrivals: stats.arrivals, peakRss };
    }
    const elapsed = stats.firstAt && stats.lastAt ? (stats.lastAt - stats.firstAt) / 1000 : 0;
    const rate = elapsed > 0 ? ` (${Math.round((stats.count - 1) / elapsed)}/s)` : '';
    report.progress(`${report.label}: ${stats.count}/${target} emails${rate}`);
    if (stats.count !== last.count) last = { count: stats.count, at: Date.now() };
    const dead = processes.find((p) => p.rss() === 0);
    const stalled = Date.now() - last.at > (report.stallMs ?? STALL_TIMEOUT_MS);
    if (dead || stalled) {
      const why = dead ? `process ${dead.pid} exited` : `no new email for ${report.stallMs ?? STALL_TIMEOUT_MS} ms`;
      const outputs = processes.map((p) => `--- pid ${p.pid}:\n${p.output()}`).join('\n');
      throw new Error(`${report.label}: ${why} at ${stats.count}/${target} emails\n${outputs}`);
    }
    await sleep(target > 5000 ? 1000 : 250);
  }
}

/** Starts `count` mailers at once on `names`, all or none (a failure stops the ones that did start). */
export async function startMailers(count: number, env: Record<string, string>): Promise<ServiceProcess[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startService('mailer', env)));
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stopAll(ok);
    throw failed.reason;
  }
  return ok;
}

/** RSS of `count` mailers started on an empty queue, once ready and settled for a second (bytes each). */
async function idleMailerRss(count: number, env: Record<string, string>): Promise<number[]> {
  const mailers = await startMailers(count, env);
  try {
    await sleep(1000);
    return mailers.map((m) => m.rss());
  } finally {
    await stopAll(mailers);
  }
}

/** A rate over a span: `count` emails in `seconds`. */
export interface SpanRate {
  count: number;
  seconds: number;
  emailsPerSecond: number;
}

export interface DrainResult {
  mailers: number;
  /** Emails the sink accepted (at least the backlog; more only if some email went out twice). */
  count: number;
  /**
   * The drain rate with all `mailers` running: emails that arrived after the last mailer
   * answered /readyz, divided by the time from then to the last arrival (`steady`'s figures).
   */
  emailsPerSecond: number;
  seconds: number;
  steady: SpanRate;
  /** From the sink's first to its last arrival ((count − 1) intervals): includes the stagger of the mailers' start. */
  firstToLast: SpanRate;
  /** From spawning the mailers to the last arrival: process start-up included. */
  wall: SpanRate;
  /** Bytes per mailer: idle (ready on an empty queue, separate processes), peak during and at the end of the drain. */
  rss: { idle: number[]; peak: number[]; end: number[] };
}

const spanRate = (count: number, fromMs: number, toMs: number): SpanRate => {
  const seconds = Math.max(0, toMs - fromMs) / 1000;
  return { count, seconds, emailsPerSecond: seconds > 0 ? count / seconds : 0 };
};

/** `DrainResult`'s rates from what the sink saw, when the mailers were spawned and when all were ready (epoch ms). */
function drainRates(
  seen: SinkWait,
  spawnedAt: number,
  readyAt: number,
): Pick<DrainResult, 'steady' | 'firstToLast' | 'wall'> {
  const afterReady = Object.values(seen.arrivals).filter((at) => at >= readyAt).length;
  // Every email arrived before the last mailer was ready (a backlog too small for this many): first to last then.
  const firstToLast = spanRate(seen.count - 1, seen.firstAt, seen.lastAt);
  const steady = seen.lastAt > readyAt && afterReady > 1 ? spanRate(afterReady, readyAt, seen.lastAt) : firstToLast;
  return { steady, firstToLast, wall: spanRate(seen.count, spawnedAt, seen.lastAt) };
}

/**
 * Emails per second of `mailers` mailer processes draining a preloaded backlog of `backlog`
 * events through the real topology (render, ledger, SMTP to `sink`, ack).
 *
 * Method: first `mailers` processes are started on the empty queue and their idle RSS recorded,
 * then stopped; the ledger schema is dropped (so every run starts with an empty ledger and the
 * same order ids `B-<n>` can be sent again); `backlog` events are preloaded while no mailer runs
 * (not timed); then `mailers` fresh processes are spawned at once and the sink is watched until
 * it has `backlog` emails. The rate (`steady`) counts the emails that arrived after the last of
 * the mailers answered /readyz, over the time from then to the last arrival: all of them running,
 * process start-up (Node, migrations, template compilation) not counted. `firstToLast` and `wall`
 * are given for comparison. RSS `end` is read when the last email has arrived. `env` overrides
 * the mailers' settings (PREFETCH, SMTP_POOL_SIZE, …). The mailers are stopped, the sink reset and
 * the work queue purged afterwards, also on failure. Use a backlog that takes well over the
 * mailers' start-up (a few seconds) to drain.
 */
export async function drainBacklog(options: {
  mailers: number;
  backlog: number;
  sink: SmtpSink;
  names: BenchNames;
  env?: Record<string, string>;
  progress?: Progress;
}): Promise<DrainResult> {
  const { names, sink, backlog } = options;
  const progress = options.progress ?? (() => undefined);
  const env = benchMailerEnv(names, sink.url, options.env);
  const label = `mailer ×${options.mailers}`;
  let mailers: ServiceProcess[] = [];
  try {
    progress(`${label}: idle RSS`);
    const idle = await idleMailerRss(options.mailers, env);
    await dropSchema(names);
    await purgeWorkQueue(names);
    await sink.reset();
    await preloadBacklog(AMQP_URL, names, backlog, (line) => progress(`${label}: ${line}`));
    progress(`${label}: starting ${options.mailers} mailer process(es)`);
    const spawnedAt = Date.now();
    mailers = await startMailers(options.mailers, env);
    const readyAt = Date.now();
    const seen = await waitForSink(sink, backlog, mailers, { label, progress });
    const end = mailers.map((m) => m.rss());
    const rates = drainRates(seen, spawnedAt, readyAt);
    return {
      mailers: options.mailers,
      count: seen.count,
      emailsPerSecond: rates.steady.emailsPerSecond,
      seconds: rates.steady.seconds,
      ...rates,
      rss: { idle, peak: seen.peakRss, end },
    };
  } finally {
    await runEach([() => stopAll(mailers), () => sink.reset(), () => purgeWorkQueue(names)]);
  }
}

/** The order API's figures under load: autocannon's, plus its RSS (bytes) before and after. */
export type OrderApiResult = HttpLoadResult & { rss: { idle: number; end: number } };

/**
 * POST /orders of the order API (production build, authentication on with one key, publisher
 * confirms on as by default, mandatory publishes) under autocannon (`runAutocannon`, its own
 * process) with `connections` connections for `durationSeconds`, each request a `benchOrder`
 * with a unique orderId. No mailer runs: the topology is declared first so the publishes route,
 * and the work queue is purged afterwards. RSS `idle` is read a second after the API is ready,
 * `end` right after the load.
 */
export async function measureOrderApi(options: {
  connections: number;
  durationSeconds: number;
  names: BenchNames;
  runAutocannon?: typeof runAutocannon;
}): Promise<OrderApiResult> {
  const { names } = options;
  const load = options.runAutocannon ?? runAutocannon;
  let api: ServiceProcess | undefined;
  try {
    await declareBenchTopology(AMQP_URL, names);
    api = await startService('order-api', orderApiEnv(names));
    await sleep(1000);
    const idle = api.rss();
    const result = await load({
      url: `${api.url}/orders`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: orderApiBody(),
      uniqueIds: true,
      expectStatus: 202,
      connections: options.connections,
      durationSeconds: options.durationSeconds,
    });
    return { ...result, rss: { idle, end: api.rss() } };
  } finally {
    await runEach([() => stopAll([api]), () => purgeWorkQueue(names)]);
  }
}

/** The `p`th percentile (nearest rank) of ascending `sorted`; 0 when empty. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** One posted order of the latency run: when its request started and when its 202 came back (epoch ms). */
interface Posted {
  sentAt: number;
  acceptedAt: number;
}

/**
 * Posts `total` orders (`benchOrder('L-<tag>-<n>')`) to `url` at `ratePerSecond`, on a schedule
 * (request n starts at n / rate seconds, however long earlier ones take). Resolves, once every
 * request has answered, with the accepted (202) ones by order id and the number refused.
 */
async function postAtRate(
  url: string,
  ratePerSecond: number,
  total: number,
  progress: Progress,
): Promise<{ accepted: Map<string, Posted>; refused: number }> {
  const accepted = new Map<string, Posted>();
  let refused = 0;
  const tag = randomBytes(3).toString('hex');
  const post = async (n: number) => {
    const orderId = `L-${tag}-${n}`;
    const sentAt = Date.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(benchOrder(orderId)),
    }).catch(() => undefined);
    await res?.arrayBuffer().catch(() => undefined);
    if (res?.status === 202) accepted.set(orderId, { sentAt, acceptedAt: Date.now() });
    else refused++;
  };
  const pending: Promise<void>[] = [];
  const startedAt = Date.now();
  while (pending.length < total) {
    const due = Math.min(total, Math.floor(((Date.now() - startedAt) * ratePerSecond) / 1000) + 1);
    while (pending.length < due) pending.push(post(pending.length + 1));
    if (pending.length % Math.max(1, Math.round(ratePerSecond)) === 0) {
      progress(`latency at ${ratePerSecond} orders/s: ${pending.length}/${total} posted`);
    }
    const next = startedAt + (pending.length * 1000) / ratePerSecond;
    await sleep(Math.max(0, next - Date.now()));
  }
  await Promise.all(pending);
  return { accepted, refused };
}

/** Waits until the sink has an arrival for every id of `ids`, or `timeoutMs` passed; its arrivals by order id. */
async function arrivalsOf(sink: SmtpSink, ids: readonly string[], timeoutMs: number): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { arrivals } = await sink.stats();
    if (ids.every((id) => arrivals[id] !== undefined) || Date.now() > deadline) return arrivals;
    await sleep(200);
  }
}

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  posted: number;
  /** Orders answered 202. */
  accepted: number;
  /** Accepted orders whose email reached the sink (within 30 s of the last post). */
  count: number;
  /** From the 202 reaching the client to the sink accepting the email (ms; excludes the API's own latency). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the request's start to the sink accepting the email (ms; includes the API's latency). */
  fromRequest: { p50Ms: number; p99Ms: number };
}

/** Latencies (ms, ascending) of the accepted orders whose email arrived: from the 202, and from the request's start. */
function latenciesOf(accepted: Map<string, Posted>, arrivals: Record<string, number>) {
  const fromAccept: number[] = [];
  const fromRequest: number[] = [];
  for (const [orderId, posted] of accepted) {
    const at = arrivals[orderId];
    if (at === undefined) continue;
    fromAccept.push(at - posted.acceptedAt);
    fromRequest.push(at - posted.sentAt);
  }
  return { fromAccept: fromAccept.sort((a, b) => a - b), fromRequest: fromRequest.sort((a, b) => a - b) };
}

/**
 * End-to-end latency at a steady rate: with the order API and one mailer running (production
 * builds; the mailer with `env`'s overrides), posts orders at `ratePerSecond` for `seconds`
 * (a scheduled loop of fetch calls, unique order ids) and matches each 202 with the sink's
 * arrival of its email (keyed by the order id in the Subject). Latency = arrival − time the 202
 * was received (epoch ms, same clock); the event's `acceptedAt` lies between the request's start
 * and its 202, so `fromRequest` (arrival − request start) bounds it from above. A warm-up of
 * `warmupSeconds` (default 2) at the same rate runs first and is not counted (cold start: JIT,
 * the first SMTP connections, the first renders). Emails still missing 30 s after the last post
 * are left out (`count` < `accepted`). Both services are stopped, the sink reset and the work
 * queue purged afterwards, also on failure.
 */
export async function measureLatency(options: {
  ratePerSecond: number;
  seconds: number;
  names: BenchNames;
  sink: SmtpSink;
  env?: Record<string, string>;
  warmupSeconds?: number;
  progress?: Progress;
}): Promise<LatencyResult> {
  const { names, sink, ratePerSecond, seconds } = options;
  const progress = options.progress ?? (() => undefined);
  const processes: ServiceProcess[] = [];
  try {
    await purgeWorkQueue(names);
    // The mailer first: it declares the queue the API's mandatory publishes must reach.
    processes.push(await startService('mailer', benchMailerEnv(names, sink.url, options.env)));
    processes.push(await startService('order-api', orderApiEnv(names)));
    const url = `${processes[1].url}/orders`;
    const warmup = Math.max(1, Math.round(ratePerSecond * (options.warmupSeconds ?? 2)));
    const warm = await postAtRate(url, ratePerSecond, warmup, (line) => progress(`warm-up: ${line}`));
    await arrivalsOf(sink, [...warm.accepted.keys()], 30_000);
    await sink.reset();
    const total = Math.max(1, Math.round(ratePerSecond * seconds));
    const { accepted, refused } = await postAtRate(url, ratePerSecond, total, progress);
    progress(`latency at ${ratePerSecond} orders/s: waiting for the last emails`);
    const { fromAccept, fromRequest } = latenciesOf(accepted, await arrivalsOf(sink, [...accepted.keys()], 30_000));
    return {
      ratePerSecond,
      seconds,
      posted: accepted.size + refused,
      accepted: accepted.size,
      count: fromAccept.length,
      p50Ms: percentile(fromAccept, 50),
      p99Ms: percentile(fromAccept, 99),
      maxMs: fromAccept.at(-1) ?? 0,
      fromRequest: { p50Ms: percentile(fromRequest, 50), p99Ms: percentile(fromRequest, 99) },
    };
  } finally {
    // The API first: nothing new is published while the mailer finishes its sends.
    await runEach([
      () => stopAll([processes[1]]),
      () => stopAll([processes[0]]),
      () => sink.reset(),
      () => purgeWorkQueue(names),
    ]);
  }
}

/**
 * The naive baseline's consumer: `backlog` events preloaded on the work queue of `names` (ids
 * `N-<n>`, while nothing consumes), then `scripts/bench/naive-worker.ts` (run with tsx: prefetch
 * 1, MJML compiled and Handlebars compiled per message, a new unpooled nodemailer transport per
 * message, ack after the send, no ledger) drains them into `sink`. Rate as in `drainBacklog`:
 * between the sink's first and last arrival. The worker is stopped, the sink reset and the work
 * queue purged afterwards, also on failure.
 */
export async function naiveBaseline(options: {
  backlog: number;
  sink: SmtpSink;
  names: BenchNames;
  progress?: Progress;
}): Promise<RateResult & { emailsPerSecond: number }> {
  const { names, sink, backlog } = options;
  const progress = options.progress ?? (() => undefined);
  let worker: BenchProcess | undefined;
  try {
    await purgeWorkQueue(names);
    await sink.reset();
    await preloadBacklog(AMQP_URL, names, backlog, (line) => progress(`naive baseline: ${line}`), { idPrefix: 'N' });
    worker = spawnBenchProcess(process.execPath, ['--import', 'tsx', 'scripts/bench/naive-worker.ts'], {
      AMQP_URL,
      QUEUE: names.queue,
      SMTP_URL: sink.url,
      MAIL_FROM,
    });
    const seen = await waitForSink(sink, backlog, [worker], { label: 'naive baseline', progress });
    const seconds = (seen.lastAt - seen.firstAt) / 1000;
    const perSecond = seconds > 0 ? (seen.count - 1) / seconds : 0;
    return { count: seen.count, seconds, perSecond, emailsPerSecond: perSecond };
  } finally {
    await runEach([() => stopAll([worker]), () => sink.reset(), () => purgeWorkQueue(names)]);
  }
}

/**
 * The naive publisher: `count` messages (a preloaded event's size) published to a quorum queue
 * of its own on a plain confirm channel, each publish awaited alone (publish, then
 * `waitForConfirms`, before the next). The queue is deleted afterwards. Messages per second.
 */
export async function naivePublishRate(amqpUrl: string, count: number): Promise<RateResult> {
  const { connection, channel } = await connect(amqpUrl);
  const queue = `bench.naive-publish.${randomBytes(4).toString('hex')}`;
  try {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const confirm = await connection.createConfirmChannel();
    confirm.on('error', () => undefined);
    const event = sampleEvent({ order: benchOrder('P-1') });
    const body = Buffer.from(JSON.stringify(event));
    const started = performance.now();
    for (let n = 0; n < count; n++) {
      confirm.publish('', queue, body, publishOptions(event));
      await confirm.waitForConfirms();
    }
    const seconds = (performance.now() - started) / 1000;
    await confirm.close();
    return { count, seconds, perSecond: count / seconds };
  } finally {
    await channel.deleteQueue(queue).catch(() => undefined);
    await connection.close().catch(() => undefined);
  }
}
