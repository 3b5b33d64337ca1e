// Child processes of the benchmark: the services from their production build, and workers run
// with tsx. Each gets only PATH and the environment it is given, so what it measures is what a
// deployment with that environment would do.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchProcess } from './types';
import { freePort } from '../../test/helpers/ports';

/** The repository's root (this file is `scripts/bench/processes.ts`). */
export const ROOT = path.resolve(__dirname, '../..');

/** How long `stop()` waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** The most of a process's output kept for error messages (the end of it). */
const OUTPUT_LIMIT = 64 * 1024;

export type ServiceName = 'order-api' | 'mailer';

/** A service started by `startService`: its process and where its HTTP server listens. */
export interface ServiceProcess extends BenchProcess {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** Resolves with the exit code (or the signal's name) when the process ends, whoever ended it. */
  exited: Promise<number | string>;
}

/**
 * Resident set size of a process in bytes, from `/proc/<pid>/status` (`VmRSS`, given there in
 * kB); 0 when the process is gone or the line is missing (not Linux).
 */
export function readRss(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Spawns `command args` in the repository's root with only PATH and `env` (no inherited
 * environment), stdout and stderr captured (the last 64 KiB) for `output()`. `stop()` sends
 * SIGTERM, then SIGKILL after 10 s; it resolves once the process has exited (at once if it
 * already had) and may be called more than once. `exited` resolves with the exit code (or the
 * signal's name) when the process ends, whoever ended it. Throws once `stopEveryProcess` was called.
 */
export function spawnBenchProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
): BenchProcess & { exited: Promise<number | string> } {
  // A step still running while an interrupted run stops everything (the kill loop starts
  // replacements) must not leave a process behind that nothing stops.
  if (stoppingEverything) throw new Error('the benchmark is stopping every process: not starting another');
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => {
      keep(Buffer.from(`spawn failed: ${err.message}\n`));
      resolve('spawn-error');
    });
  });
  let stopping: Promise<void> | undefined;
  const stop: () => Promise<void> = () =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    })());
  running.add(stop);
  void exited.then(() => running.delete(stop));
  return { pid: child.pid ?? -1, rss: () => readRss(child.pid ?? -1), stop, output: () => output, exited };
}

/** The `stop` of every benchmark process still running (`stopEveryProcess`). */
const running = new Set<() => Promise<void>>();
/** Set by `stopEveryProcess`: no process is started after it. */
let stoppingEverything = false;

/**
 * Stops every process the benchmark started and that still runs (SIGTERM, then SIGKILL): an
 * interrupted run does this before removing its queues, which a running mailer would declare again.
 */
export async function stopEveryProcess(): Promise<void> {
  stoppingEverything = true;
  await Promise.all([...running].map((stop) => stop().catch(() => undefined)));
}

/** Resolves when `GET <url>/readyz` answers 200; rejects if the process exits first or after `timeoutMs`. */
async function waitUntilReady(url: string, exited: Promise<number | string>, timeoutMs: number): Promise<void> {
  let exit: number | string | undefined;
  void exited.then((code) => (exit = code));
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exit !== undefined) throw new Error(`exited (${exit}) before it was ready`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not ready after ${timeoutMs} ms (last /readyz: ${last})`);
}

/**
 * The `NODE_OPTIONS` of the production image (the runtime stage's `ENV NODE_OPTIONS="…"` line
 * in the Dockerfile), so the bench measures the heap settings users run. Throws when the
 * Dockerfile has no such line.
 */
export function productionNodeOptions(): string {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const line = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile);
  if (!line) throw new Error('Dockerfile has no ENV NODE_OPTIONS="…" line for the bench to copy');
  return line[1];
}

/**
 * Starts a service from its production build (`node services/<service>/dist/main.js`, run with
 * this process's Node) with only PATH, the image's NODE_OPTIONS (`productionNodeOptions`,
 * unless `env` sets its own) and `env`, on a free port of 127.0.0.1 chosen here (PORT
 * and HOST are set; PORT=0 would hide the port from us). Resolves once `GET /readyz` answers
 * 200; rejects after `readyTimeoutMs` (default 30 s) or when the process exits first, the error
 * holding its output, and the process stopped. Run `npm run build` first.
 */
export async function startService(
  service: ServiceName,
  env: Record<string, string>,
  options: { readyTimeoutMs?: number } = {},
): Promise<ServiceProcess> {
  const main = path.join(ROOT, 'services', service, 'dist', 'main.js');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = spawnBenchProcess(process.execPath, [main], {
      NODE_OPTIONS: productionNodeOptions(),
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilReady(url, proc.exited, options.readyTimeoutMs ?? 30_000);
      return { ...proc, url, port };
    } catch (err) {
      await proc.stop();
      // The port was taken between freePort() and the service's listen: try another, once.
      if (attempt === 1 && proc.output().includes('EADDRINUSE')) continue;
      throw new Error(`${service} (pid ${proc.pid}) ${(err as Error).message}; its output:\n${proc.output()}`, {
        cause: err,
      });
    }
  }
}

/**
 * Stops every process given (undefined ones skipped) at the same time; resolves when all have
 * exited. Never rejects.
 */
export async function stopAll(processes: readonly (BenchProcess | undefined)[]): Promise<void> {
  await Promise.all(processes.map((p) => p?.stop().catch(() => undefined)));
}
