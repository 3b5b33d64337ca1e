// The SMTP sink as a process of its own (smtp-sink.ts), and the helper that starts a script of
// this folder with tsx and waits for the JSON line it prints once it listens.
import path from 'node:path';
import { spawnBenchProcess } from './processes';
import type { BenchProcess, SmtpSink } from './types';

/** A script started by `startScript`, with the JSON object of its first line. */
export interface ScriptProcess extends BenchProcess {
  ready: Record<string, unknown>;
  exited: Promise<number | string>;
}

/**
 * Runs `scripts/bench/<script>` (a .ts file) as `node --import tsx`, with only PATH and `env`,
 * and resolves once it has printed a line holding a JSON object (the ports it listens on); rejects
 * if it exits first or after `timeoutMs`, with its output, the process stopped.
 */
export async function startScript(
  script: string,
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<ScriptProcess> {
  const proc = spawnBenchProcess(process.execPath, ['--import', 'tsx', path.join(__dirname, script)], env);
  let exit: number | string | undefined;
  void proc.exited.then((code) => (exit = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && exit === undefined) {
    const line = proc
      .output()
      .split('\n')
      .find((l) => l.startsWith('{') && l.endsWith('}'));
    if (line !== undefined) return { ...proc, ready: JSON.parse(line) as Record<string, unknown> };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await proc.stop();
  const why = exit === undefined ? `printed no ports within ${timeoutMs} ms` : `exited (${exit}) before it listened`;
  throw new Error(`${script} (pid ${proc.pid}) ${why}; its output:\n${proc.output()}`);
}

async function control(controlPort: number, method: 'GET' | 'POST', what: string): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${controlPort}${what}`, { method, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`SMTP sink: ${method} ${what} answered ${res.status}`);
  return res;
}

/**
 * Starts the SMTP sink (smtp-sink.ts) as its own process on 127.0.0.1: no authentication, no
 * STARTTLS, no greeting delay. `stats()` gives the messages accepted since the last `reset()`, the
 * first and last arrival, each order id's first arrival (epoch ms) and the Message-IDs of the
 * orders that arrived more than once; `close()` sends SIGTERM
 * and resolves once it has exited.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const proc = await startScript('smtp-sink.ts');
  const port = Number(proc.ready.smtpPort);
  const controlPort = Number(proc.ready.controlPort);
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    async stats() {
      return (await control(controlPort, 'GET', '/stats')).json() as ReturnType<SmtpSink['stats']>;
    },
    async reset() {
      await control(controlPort, 'POST', '/reset');
    },
    close: () => proc.stop(),
  };
}
