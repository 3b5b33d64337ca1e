// `npm run bench`: pushes orders through both services (in-process, against the local RabbitMQ and
// PostgreSQL, into an in-process SMTP sink) and prints throughput, latency and memory figures.
// Figures only, no pass/fail: compare runs on the same machine. Usage:
//   npm run bench -- [orders=2000] [concurrency=50]
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { loadMailerConfig } from '../services/mailer/src/config';
import { startMailer } from '../services/mailer/src/service';
import { loadOrderApiConfig } from '../services/order-api/src/config';
import { startOrderApi } from '../services/order-api/src/service';
import { AMQP_URL } from '../test/helpers/broker';
import { deleteStackTopology, mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '../test/helpers/stack';
import { bearer, sampleOrder, TEST_API_KEY_ENV } from '../test/helpers/orders';

const ORDERS = Number(process.argv[2] ?? 2000);
const CONCURRENCY = Number(process.argv[3] ?? 50);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  // An SMTP sink: reads each message only far enough to find its order id.
  const arrivals = new Map<string, number>();
  let resolveAll: () => void = () => undefined;
  const allArrived = new Promise<void>((resolve) => (resolveAll = resolve));
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 4096) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        const orderId = /^Subject: Your order (\S+) is confirmed/m.exec(head)?.[1];
        if (orderId && !arrivals.has(orderId)) arrivals.set(orderId, performance.now());
        if (arrivals.size === ORDERS) resolveAll();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;

  const names = uniqueStackNames();
  const env = { ...mailerEnv(names, smtpUrl), LOG_LEVEL: 'warn', PREFETCH: '50', SMTP_POOL_SIZE: '10' };
  const mailer = await startMailer(loadMailerConfig(env));
  const api = await startOrderApi(
    // A random key, as production has one; a limit no bench run reaches, so it measures the API, not the limit.
    loadOrderApiConfig({
      PORT: '0',
      AMQP_URL,
      ORDERS_EXCHANGE: names.exchange,
      LOG_LEVEL: 'warn',
      ...TEST_API_KEY_ENV,
      ORDER_API_RATE_LIMIT: String(Number.MAX_SAFE_INTEGER),
    }),
  );
  while (!api.isReady() || !mailer.isReady()) await new Promise((r) => setTimeout(r, 50));
  const apiUrl = `http://127.0.0.1:${api.port}/orders`;

  const accepted = new Map<string, number>();
  const httpLatencies: number[] = [];
  let next = 0;
  let refused = 0;
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const runId = Date.now().toString(36);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ORDERS) {
        const orderId = `BENCH-${runId}-${next++}`;
        const t0 = performance.now();
        const res = await fetch(apiUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...bearer() },
          body: JSON.stringify(sampleOrder({ orderId })),
        });
        await res.arrayBuffer();
        const t1 = performance.now();
        httpLatencies.push(t1 - t0);
        if (res.status === 202) accepted.set(orderId, t1);
        else refused += 1;
      }
    }),
  );
  const postedIn = performance.now() - started;
  const timeout = setTimeout(resolveAll, 120_000);
  await allArrived;
  clearTimeout(timeout);
  const doneIn = performance.now() - started;
  const rssAfter = process.memoryUsage().rss;

  const e2e = [...accepted]
    .flatMap(([id, t]) => (arrivals.has(id) ? [arrivals.get(id)! - t] : []))
    .sort((a, b) => a - b);
  httpLatencies.sort((a, b) => a - b);
  print(`orders: ${ORDERS} posted with concurrency ${CONCURRENCY}; ${accepted.size} accepted, ${refused} refused`);
  print(`order API: ${((accepted.size / postedIn) * 1000).toFixed(0)} orders/s accepted`);
  print(
    `  POST /orders latency ms: p50 ${percentile(httpLatencies, 50).toFixed(1)}, p95 ${percentile(httpLatencies, 95).toFixed(1)}, p99 ${percentile(httpLatencies, 99).toFixed(1)}`,
  );
  print(
    `mailer: ${arrivals.size} emails in ${(doneIn / 1000).toFixed(1)} s = ${((arrivals.size / doneIn) * 1000).toFixed(0)} emails/s end to end`,
  );
  if (e2e.length > 0) {
    print(
      `  202 → email arrived ms: p50 ${percentile(e2e, 50).toFixed(0)}, p95 ${percentile(e2e, 95).toFixed(0)}, p99 ${percentile(e2e, 99).toFixed(0)}`,
    );
  }
  print(
    `process RSS: ${(rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(rssAfter / 2 ** 20).toFixed(0)} MiB after (both services and the SMTP sink in one process)`,
  );

  await api.stop();
  await mailer.stop();
  await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
