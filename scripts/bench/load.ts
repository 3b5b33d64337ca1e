// The HTTP load generator: autocannon in a process of its own (autocannon-runner.ts), so it does
// not share a CPU budget's event loop with whatever it measures.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunnerOptions } from './autocannon-runner';
import type { HttpLoadResult } from './types';

const run = promisify(execFile);

/** What `runAutocannon` loads a server with. */
export interface AutocannonOptions {
  url: string;
  /** POST by default. */
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** The request body, the same for every request unless `uniqueIds`. */
  body?: string;
  /**
   * Replace every `[<id>]` in `body` with an id unique over the run, `<idPrefix><n>` (n counting
   * from 0): e.g. `"orderId":"[<id>]"`, so that every order is a different one.
   */
  uniqueIds?: boolean;
  /** The ids' prefix with `uniqueIds`; a random `b<8 hex>-` by default. Ids are letters, digits and `-`. */
  idPrefix?: string;
  connections: number;
  durationSeconds: number;
  /** A fixed rate over all connections instead of as fast as the server answers (latency is then corrected for coordinated omission). */
  ratePerSecond?: number;
  /** The status that counts as accepted (202 for `POST /orders`). */
  expectStatus: number;
  /** A request unanswered after this long counts as an error and its connection is reset; 10 s by default. */
  timeoutSeconds?: number;
}

/** The part of autocannon's result (its `--json` output) read here; latencies in ms. */
interface AutocannonResult {
  duration: number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  '2xx': number;
  statusCodeStats?: Record<string, { count: number }>;
}

/**
 * Loads `options.url` with autocannon, run as its own process (node --import tsx
 * autocannon-runner.ts), for `durationSeconds` on `connections` connections, each sending its
 * next request as soon as the previous one is answered (or at `ratePerSecond` over all). A
 * JSON `body` gets `content-type: application/json` unless `headers` set one. Resolves with:
 * `requestsPerSecond`, autocannon's mean of its per-second counts of answers; `okPerSecond`,
 * answers with `expectStatus` over the run's duration; p50/p99 latency of all answers (ms);
 * `non2xx`, answers with any other status; `errors`, transport errors and timeouts;
 * `durationSeconds`, the run's measured duration. Rejects if autocannon fails.
 */
export async function runAutocannon(options: AutocannonOptions): Promise<HttpLoadResult> {
  const runner: RunnerOptions = {
    url: options.url,
    method: options.method ?? 'POST',
    headers: withContentType(options.headers ?? {}, options.body),
    body: options.body,
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    uniqueIdPrefix: options.uniqueIds ? (options.idPrefix ?? `b${randomBytes(4).toString('hex')}-`) : undefined,
    ratePerSecond: options.ratePerSecond,
    timeoutSeconds: options.timeoutSeconds ?? 10,
  };
  const script = path.join(__dirname, 'autocannon-runner.ts');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, JSON.stringify(runner)], {
    cwd: path.resolve(__dirname, '../..'),
    env: { PATH: process.env.PATH ?? '' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return toLoadResult(JSON.parse(line) as AutocannonResult, options);
}

function withContentType(headers: Record<string, string>, body: string | undefined): Record<string, string> {
  const hasOne = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  return body === undefined || hasOne ? headers : { ...headers, 'content-type': 'application/json' };
}

function toLoadResult(result: AutocannonResult, options: AutocannonOptions): HttpLoadResult {
  const byStatus = result.statusCodeStats;
  const ok = byStatus
    ? (byStatus[String(options.expectStatus)]?.count ?? 0)
    : options.expectStatus >= 200 && options.expectStatus < 300
      ? result['2xx']
      : 0;
  const answered = byStatus ? Object.values(byStatus).reduce((sum, s) => sum + s.count, 0) : result.requests.total;
  const seconds = result.duration > 0 ? result.duration : options.durationSeconds;
  return {
    requestsPerSecond: result.requests.average,
    okPerSecond: ok / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: answered - ok,
    errors: result.errors,
    connections: options.connections,
    durationSeconds: seconds,
  };
}
