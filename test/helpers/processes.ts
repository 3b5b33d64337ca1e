import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** The compiled dead-letter CLI, the script `npm run dlq` runs. */
export const DLQ_COMPILED = path.join(ROOT, 'services/mailer/dist/entry-points/cli/dlq.js');

export interface ServiceProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Runs a service's `main.ts` as a real process, the way production runs it, with only the given env. */
export function spawnService(service: 'order-api' | 'mailer', env: Record<string, string>): ServiceProcess {
  // One process (tsx as a loader, not its wrapper CLI), so a SIGKILL really kills the service.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'services', service, 'src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Runs the dead-letter CLI (`npm run dlq -- …`) and returns what it printed: from its source by
 * default, or `compiled` from `services/mailer/dist` exactly as `npm run dlq` runs it (needs
 * `npm run build`, which `npm test` does first).
 */
export function runDlqCli(
  args: string[],
  env: Record<string, string> = {},
  options: { compiled?: boolean } = {},
): Promise<ProcessRun> {
  const argv = options.compiled
    ? [DLQ_COMPILED, ...args]
    : ['--import', 'tsx', path.join(ROOT, 'services/mailer/src/entry-points/cli/dlq.ts'), ...args];
  return runProcess(process.execPath, argv, env);
}

/** What a finished process printed, and its exit code (-1 when a signal ended it). */
export interface ProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` from the repository's root with only PATH and `env` in its environment (so no
 * AMQP_URL, DATABASE_URL or SMTP_URL of the test's leaks in) and resolves once it has closed.
 */
export function runProcess(command: string, args: string[], env: Record<string, string> = {}): Promise<ProcessRun> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}
