// `npm run bench`: measures this machine's limits and the pipeline against them, in one run, and
// prints one table (figures only, never a verdict; see README, "Benchmark"). Usage:
//   npm run bench -- [--backlog N] [--mailers 1,2,3] [--memory-backlog N] [--out PATH] [--quick]
// It needs the production build (`npm run build`, which it runs first), the local RabbitMQ and
// PostgreSQL; it starts the SMTP sink and the services as processes of their own, on loopback,
// with names of its own, and removes them afterwards.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as amqp from 'amqplib';
import { Client } from 'pg';
import { AMQP_URL } from '../test/helpers/broker';
import { DATABASE_URL } from '../test/helpers/database';
import { killLoop, type KillLoopResult } from './bench/kill-loop';
import { expressNoopRate, rawConsumeRate, rawPublishRate, rawSmtpRate, sampleEmailBody } from './bench/limits';
import {
  benchNames,
  benchOrder,
  cleanup,
  drainBacklog,
  measureLatency,
  measureOrderApi,
  naiveBaseline,
  naivePublishRate,
  orderApiBody,
} from './bench/pipeline';
import { productionNodeOptions, stopEveryProcess } from './bench/processes';
import { startSmtpSink } from './bench/sink-process';
import type { HttpLoadResult, RateResult, SmtpSink } from './bench/types';

const ROOT = path.resolve(__dirname, '..');

/**
 * What an interrupted run must still undo (its names in RabbitMQ and PostgreSQL, the sink): the
 * steps register here, and Ctrl-C runs them before exiting. Node's default would exit at once and
 * leave `bench.*` queues and `bench_*` schemas behind.
 */
const undo = new Set<() => Promise<void>>();

function onInterrupt(): void {
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: removing what the run created (Ctrl-C again to leave it)\n');
    process.once('SIGINT', () => process.exit(130));
    // The processes first: a mailer still running would declare the queues again once removed.
    const undone = stopEveryProcess().then(() => Promise.allSettled([...undo].map((step) => step())));
    void undone.then((settled) => {
      for (const r of settled)
        if (r.status === 'rejected') process.stderr.write(`could not undo: ${String(r.reason)}\n`);
      process.exit(130);
    });
  });
}

interface Options {
  backlog: number;
  mailers: number[];
  memoryBacklog: number;
  out: string;
  quick: boolean;
  connections: number;
  seconds: number;
  naiveBacklog: number;
  prefetch: number;
  poolSize: number;
  /** The SIGKILL loop: orders, kills, and the mailers' UNKNOWN_OUTCOME_GRACE_MS (ms) for it. */
  killLoop: { orders: number; kills: number; graceMs: number };
}

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      backlog: { type: 'string' },
      mailers: { type: 'string' },
      'memory-backlog': { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm run bench -- [--backlog N (20000)] [--mailers 1,2,3] [--memory-backlog N (0: skip)] ' +
        '[--out PATH (bench/results/<ISO date>.json)] [--quick (small numbers, for a smoke run)]\n',
    );
    process.exit(0);
  }
  const quick = values.quick === true;
  const whole = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
    return Number(value);
  };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    backlog: whole('backlog', values.backlog, quick ? 500 : 20_000),
    mailers: (values.mailers ?? (quick ? '1,2' : '1,2,3')).split(',').map((n) => whole('mailers', n, 1)),
    memoryBacklog: whole('memory-backlog', values['memory-backlog'], 0),
    out: values.out ?? path.join(ROOT, 'bench', 'results', `${stamp}.json`),
    quick,
    connections: 50,
    seconds: quick ? 5 : 20,
    naiveBacklog: quick ? 50 : 300,
    prefetch: 50,
    poolSize: 10,
    killLoop: { orders: quick ? 300 : 1500, kills: quick ? 5 : 15, graceMs: 5000 },
  };
}

/** One line on stderr, rewritten as the run goes on; the table goes to stdout. */
function progress(what: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${what}`);
  else process.stderr.write(`${what}\n`);
}

async function machine(): Promise<Record<string, unknown>> {
  const connection = await amqp.connect(AMQP_URL);
  const rabbitmq = String(
    (connection as unknown as { connection: { serverProperties: { version?: unknown } } }).connection.serverProperties
      .version,
  );
  await connection.close();
  const pg = new Client({ connectionString: DATABASE_URL });
  await pg.connect();
  const postgres = (await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v;
  await pg.end();
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryBytes: os.totalmem(),
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    serviceNodeOptions: productionNodeOptions(),
    rabbitmq,
    postgres,
  };
}

interface Results {
  limits: {
    amqpPublish: RateResult;
    amqpConsume: RateResult;
    smtp: RateResult;
    expressNoop: HttpLoadResult;
  };
  orderApi: Awaited<ReturnType<typeof measureOrderApi>>;
  mailer: Awaited<ReturnType<typeof drainBacklog>>;
  scaling: { mailers: number; emailsPerSecond: number }[];
  latency: Awaited<ReturnType<typeof measureLatency>>;
  naive: { drain: Awaited<ReturnType<typeof naiveBaseline>>; publish: RateResult };
  memory: { backlog: number; mailerRss: number[] } | null;
  killLoop: KillLoopResult;
}

async function measureLimits(options: Options, sink: SmtpSink): Promise<Results['limits']> {
  // The same order as the backlog's, so the raw SMTP limit moves as many bytes per email as the mailer does.
  const email = await sampleEmailBody(benchOrder('B-1'));
  const n = options.quick ? 2000 : 20_000;
  progress('limits: raw amqplib publish with windowed confirms (quorum queue)');
  const amqpPublish = await rawPublishRate(AMQP_URL, n, 1500);
  progress('limits: raw consume + ack');
  const amqpConsume = await rawConsumeRate(AMQP_URL, n, 1500, options.prefetch);
  progress(`limits: raw pooled nodemailer into the sink (${email.bytes} bytes of HTML)`);
  const smtp = await rawSmtpRate(sink, options.quick ? 1000 : 5000, {
    html: email.html,
    text: email.text,
    poolSize: options.poolSize,
  });
  await sink.reset();
  progress('limits: express 5 no-op POST under autocannon');
  const expressNoop = await expressNoopRate(options.connections, options.seconds, orderApiBody());
  return { amqpPublish, amqpConsume, smtp, expressNoop };
}

async function measurePipeline(options: Options, sink: SmtpSink): Promise<Omit<Results, 'limits' | 'killLoop'>> {
  const names = benchNames();
  const remove = () => cleanup(names);
  undo.add(remove);
  try {
    progress('order API: POST /orders under autocannon (auth and publisher confirms on)');
    const orderApi = await measureOrderApi({
      connections: options.connections,
      durationSeconds: options.seconds,
      names,
    });
    const scaling: Results['scaling'] = [];
    let mailer: Results['mailer'] | undefined;
    for (const count of options.mailers) {
      const drain = await drainBacklog({
        mailers: count,
        backlog: options.backlog,
        sink,
        names,
        env: { PREFETCH: String(options.prefetch), SMTP_POOL_SIZE: String(options.poolSize) },
        progress,
      });
      scaling.push({ mailers: count, emailsPerSecond: drain.emailsPerSecond });
      if (count === 1) mailer = drain;
    }
    if (!mailer) throw new Error('--mailers must include 1: the mailer figure is one process');
    const rate = Math.max(1, Math.round(mailer.emailsPerSecond / 2));
    progress(`end-to-end latency at ${rate} orders/s (half the measured maximum)`);
    const latency = await measureLatency({ ratePerSecond: rate, seconds: options.seconds, names, sink });
    progress('naive baseline (prefetch 1, MJML per message, unpooled SMTP)');
    const drain = await naiveBaseline({ backlog: options.naiveBacklog, sink, names, progress });
    const publish = await naivePublishRate(AMQP_URL, options.quick ? 200 : 1000);
    let memory: Results['memory'] = null;
    if (options.memoryBacklog > 0) {
      const big = await drainBacklog({
        mailers: 1,
        backlog: options.memoryBacklog,
        sink,
        names,
        env: { PREFETCH: String(options.prefetch), SMTP_POOL_SIZE: String(options.poolSize) },
        progress,
      });
      memory = { backlog: options.memoryBacklog, mailerRss: big.rss.end };
    }
    return { orderApi, mailer, scaling, latency, naive: { drain, publish }, memory };
  } finally {
    undo.delete(remove);
    await cleanup(names);
  }
}

/**
 * The SIGKILL loop (`killLoop`) on names of its own (a fresh ledger: its order ids are new to it),
 * removed afterwards. Its mailers have the other steps' prefetch and pool, and a grace period of
 * seconds for an unknown outcome (10 min by default), with the send timeout below it as the
 * config requires, so that the resends of the killed mailers' sends come within the run.
 */
async function measureKillLoop(options: Options, sink: SmtpSink): Promise<KillLoopResult> {
  const names = benchNames();
  const { orders, kills, graceMs } = options.killLoop;
  const env = {
    PREFETCH: String(options.prefetch),
    SMTP_POOL_SIZE: String(options.poolSize),
    UNKNOWN_OUTCOME_GRACE_MS: String(graceMs),
    SMTP_SEND_TIMEOUT_MS: String(graceMs - 1000),
  };
  const remove = () => cleanup(names, env);
  undo.add(remove);
  try {
    progress(`SIGKILL loop: ${orders} orders, 3 mailers, ${kills} kills`);
    return await killLoop({ orders, kills, mailers: 3, sink, names, env, progress });
  } finally {
    undo.delete(remove);
    await cleanup(names, env);
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
// Decimal megabytes (10^6 bytes), the unit the targets are stated in.
const mb = (bytes: number) => `${fmt(bytes / 1e6, 0)} MB`;

/** The SIGKILL loop's rows of the table. */
function killLoopRows(k: KillLoopResult): [string, string, string][] {
  const grace = `UNKNOWN_OUTCOME_GRACE_MS ${fmt(k.graceMs / 1000)} s for this run (default 10 min)`;
  const planned = k.kills < k.plannedKills ? ` of ${k.plannedKills} (every order arrived first)` : '';
  return [
    [`SIGKILL loop (${k.mailers} mailers, one killed at a time)`, '', ''],
    [`  ${fmt(k.orders)} orders, ${k.kills} kills${planned}`, `${fmt(k.duplicates)} duplicates`, grace],
    ['  duplicates sharing the first Message-ID', fmt(k.duplicatesSharingMessageId), ''],
    [
      '  orders missing',
      fmt(k.missing),
      `${fmt(k.deadLettered)} dead-lettered; ` +
        (k.timedOut ? `TIMED OUT after ${fmt(k.seconds, 1)} s` : `all sent or dead-lettered in ${fmt(k.seconds, 1)} s`),
    ],
  ];
}

/** The table: each figure with what to read it against. */
function table(r: Results, options: Options): string[] {
  const rows: [string, string, string][] = [
    ['Limits of this machine', '', ''],
    ['  amqplib publish, windowed confirms, quorum queue', `${fmt(r.limits.amqpPublish.perSecond)} msg/s`, ''],
    ['  amqplib consume + ack', `${fmt(r.limits.amqpConsume.perSecond)} msg/s`, `prefetch ${options.prefetch}`],
    ['  pooled nodemailer → sink', `${fmt(r.limits.smtp.perSecond)} mails/s`, `pool ${options.poolSize}`],
    [
      '  express 5 no-op POST',
      `${fmt(r.limits.expressNoop.okPerSecond)} req/s`,
      `p50 ${fmt(r.limits.expressNoop.p50Ms, 1)} ms, p99 ${fmt(r.limits.expressNoop.p99Ms, 1)} ms`,
    ],
    ['Order API (auth, publisher confirms)', '', ''],
    [
      '  POST /orders accepted (202)',
      `${fmt(r.orderApi.okPerSecond)} orders/s`,
      `p50 ${fmt(r.orderApi.p50Ms, 1)} ms, p99 ${fmt(r.orderApi.p99Ms, 1)} ms, ${options.connections} connections`,
    ],
    ['Mailer (render, ledger, SMTP, ack)', '', ''],
    [
      `  drain a backlog of ${fmt(options.backlog)}`,
      `${fmt(r.mailer.emailsPerSecond)} emails/s`,
      `prefetch ${options.prefetch}, pool ${options.poolSize}`,
    ],
    [
      '  end-to-end latency at half that rate',
      `p50 ${fmt(r.latency.p50Ms, 1)} ms`,
      `p99 ${fmt(r.latency.p99Ms, 1)} ms (${fmt(r.latency.count)} orders)`,
    ],
    ['Naive baseline', '', ''],
    [
      '  prefetch 1, MJML per message, unpooled SMTP',
      `${fmt(r.naive.drain.emailsPerSecond, 1)} emails/s`,
      `backlog ${options.naiveBacklog}`,
    ],
    ['  each publish awaited alone', `${fmt(r.naive.publish.perSecond)} msg/s`, ''],
    ['Scaling (same backlog)', '', ''],
    ...r.scaling.map((s): [string, string, string] => [
      `  ${s.mailers} mailer process(es)`,
      `${fmt(s.emailsPerSecond)} emails/s`,
      '',
    ]),
    ['Memory (RSS)', '', ''],
    ['  order API idle → end of load', `${mb(r.orderApi.rss.idle)} → ${mb(r.orderApi.rss.end)}`, ''],
    ['  mailer idle → end of backlog', `${mb(r.mailer.rss.idle[0])} → ${mb(r.mailer.rss.end[0])}`, ''],
    ...(r.memory
      ? [
          [`  mailer after ${fmt(r.memory.backlog)}`, mb(Math.max(...r.memory.mailerRss)), ''] as [
            string,
            string,
            string,
          ],
        ]
      : []),
    ...killLoopRows(r.killLoop),
    ['Ratios (targets in README)', '', ''],
    ['  mailer ÷ raw SMTP limit', fmt(r.mailer.emailsPerSecond / r.limits.smtp.perSecond, 2), 'target ≥ 0.8'],
    ['  order API ÷ express no-op', fmt(r.orderApi.okPerSecond / r.limits.expressNoop.okPerSecond, 2), 'target ≥ 0.6'],
    ['  pipeline ÷ naive baseline', fmt(r.mailer.emailsPerSecond / r.naive.drain.emailsPerSecond, 1), 'target ≥ 50'],
  ];
  const w0 = Math.max(...rows.map((row) => row[0].length));
  const w1 = Math.max(...rows.map((row) => row[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`.trimEnd());
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  progress('building the services (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const about = await machine();
  onInterrupt();
  const sink = await startSmtpSink();
  undo.add(() => sink.close());
  let results: Results;
  try {
    const limits = await measureLimits(options, sink);
    const pipeline = await measurePipeline(options, sink);
    results = { limits, ...pipeline, killLoop: await measureKillLoop(options, sink) };
  } finally {
    await sink.close();
  }
  progress('done');
  process.stderr.write('\n');
  const lines = table(results, options);
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(
    options.out,
    `${JSON.stringify({ at: new Date().toISOString(), machine: about, options, results }, null, 2)}\n`,
  );
  process.stdout.write(`\nfigures written to ${path.relative(process.cwd(), options.out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`\nbench failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
