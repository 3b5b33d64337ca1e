import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

/** The Prometheus binary the tests run (Debian's `prometheus` package installs /usr/bin/prometheus). */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

/** RabbitMQ's per-queue series (rabbitmq_prometheus), as scraped by the compose stack's Prometheus. */
export const RABBITMQ_DETAILED_TARGET: ScrapeTarget = {
  job: 'rabbitmq',
  address: process.env.RABBITMQ_PROMETHEUS_ADDRESS ?? '127.0.0.1:15692',
  metricsPath: '/metrics/detailed',
  params: { family: ['queue_coarse_metrics', 'queue_consumer_count'] },
};

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
  metricsPath?: string;
  params?: Record<string, string[]>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromQueryResult {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: PromSample[] };
}

export interface TestPrometheus {
  url: string;
  /** Runs an instant query (`/api/v1/query`); the answer as Prometheus gives it, errors included. */
  query(expr: string): Promise<PromQueryResult>;
  /** Polls `expr` until it returns at least one sample; rejects after `timeoutMs` naming the query. */
  waitForSeries(expr: string, timeoutMs?: number): Promise<PromSample[]>;
  /** SIGTERM, waits for the process to exit (SIGKILL after 5 s), removes the temp dir. */
  stop(): Promise<void>;
}

/** prometheus.yml for `targets`; JSON is valid YAML, so no YAML writer is needed. */
function prometheusConfig(targets: ScrapeTarget[], scrapeInterval: string): string {
  return JSON.stringify(
    {
      global: { scrape_interval: scrapeInterval, scrape_timeout: scrapeInterval, evaluation_interval: scrapeInterval },
      scrape_configs: targets.map((t) => ({
        job_name: t.job,
        metrics_path: t.metricsPath ?? '/metrics',
        ...(t.params ? { params: t.params } : {}),
        static_configs: [{ targets: [t.address] }],
      })),
    },
    null,
    2,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * A real Prometheus in a child process, scraping `targets` every `scrapeInterval` (1s by default),
 * with its TSDB in a temp dir and its API on a free 127.0.0.1 port. Resolves once `/-/ready` answers 200.
 */
export async function startPrometheus(options: {
  targets: ScrapeTarget[];
  scrapeInterval?: string;
  readyTimeoutMs?: number;
}): Promise<TestPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(
      `no Prometheus binary at ${PROMETHEUS_BIN}: install Debian's prometheus package or set PROMETHEUS_BIN`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'order-mail-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(options.targets, options.scrapeInterval ?? '1s'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });

  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited(child);
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 15000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${stderr}`);
    }
    if (spawnError) {
      await stop();
      throw new Error(`could not start ${PROMETHEUS_BIN}: ${spawnError.message}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready on ${url} within ${options.readyTimeoutMs ?? 15000} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const query = async (expr: string): Promise<PromQueryResult> => {
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }).toString(),
    });
    return (await res.json()) as PromQueryResult;
  };

  return {
    url,
    query,
    async waitForSeries(expr, timeoutMs = 15000) {
      const until = Date.now() + timeoutMs;
      let last: PromQueryResult | undefined;
      for (;;) {
        last = await query(expr);
        if (last.status === 'success' && last.data && last.data.result.length > 0) return last.data.result;
        if (Date.now() > until) {
          throw new Error(
            `no series for ${expr} within ${timeoutMs} ms (last answer: ${JSON.stringify(last).slice(0, 500)})`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}
