/**
 * autocannon as a process of its own, for `runAutocannon` (load.ts):
 *
 *   node --import tsx scripts/bench/autocannon-runner.ts '<RunnerOptions as JSON>'
 *
 * It runs autocannon's own `run` (what its CLI runs, without the progress bar) and prints its
 * result, the object the CLI prints with `--json`, as one line to stdout.
 *
 * Why not the CLI: its `-I` (replace `[<id>]` in the body with a unique id) is broken in
 * autocannon 8.0.0. The request's Content-Length counts 27 bytes for each id
 * (lib/httpRequestBuilder.js), but the ids are hyperids of 24 to 29+ bytes
 * (lib/requestIterator.js), so the server waits for bytes that never come or reads the next
 * request's start as the body (mcollina/autocannon#539). Here each request's body is rebuilt by a
 * `setupRequest` instead, and autocannon computes its Content-Length from the body it gets.
 */
import { createRequire } from 'node:module';

/** What `runAutocannon` asks for. */
export interface RunnerOptions {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  durationSeconds: number;
  /** When set, every `[<id>]` in the body becomes `<uniqueIdPrefix><n>`, n = 0, 1, 2… over the run. */
  uniqueIdPrefix?: string;
  /** A fixed request rate over all connections (autocannon's `overallRate`). */
  ratePerSecond?: number;
  timeoutSeconds: number;
}

type Autocannon = (options: Record<string, unknown>) => Promise<unknown>;
/** Has no type declarations; this is the one call made. */
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

interface RequestData {
  body?: string | Buffer;
}

function autocannonOptions(options: RunnerOptions): Record<string, unknown> {
  const { uniqueIdPrefix, body } = options;
  let next = 0;
  const unique =
    uniqueIdPrefix !== undefined && body !== undefined
      ? (request: RequestData) => ({ ...request, body: body.replaceAll('[<id>]', () => `${uniqueIdPrefix}${next++}`) })
      : undefined;
  return {
    url: options.url,
    method: options.method,
    headers: options.headers,
    body,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: options.timeoutSeconds,
    ...(options.ratePerSecond !== undefined && { overallRate: options.ratePerSecond }),
    ...(unique && { requests: [{ setupRequest: unique }] }),
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '') as RunnerOptions;
  const result = await autocannon(autocannonOptions(options));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`autocannon failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
