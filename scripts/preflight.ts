/**
 * `npm test`'s first step: checks every prerequisite of the test suite and, if any is missing,
 * stops at once with one message listing all of them and the commands that fix them, instead of
 * letting tests fail one by one with errors that do not say why.
 *
 *   node --import tsx scripts/preflight.ts     (npm run preflight)
 *
 * Runs on any Node that tsx supports (so it can say that the Node is too old). To add a
 * prerequisite: a check in `CHECKS` below and, if Debian provides it, a line in
 * scripts/setup-debian.sh's PACKAGES (as chromium is, for test/browser).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { Client } from 'pg';

/** What a check found: `problem` is set when the prerequisite is missing. */
export interface CheckResult {
  /** The prerequisite, and what needs it. */
  name: string;
  /** What is wrong (absent when all is well). */
  problem?: string;
  /** The command that fixes it, and what it does. */
  fix?: Fix;
}

export interface Fix {
  command: string;
  does: string;
}

export const SETUP_DEBIAN: Fix = {
  command: 'bash scripts/setup-debian.sh',
  does: 'installs (apt) and starts what the tests need: RabbitMQ, PostgreSQL, prometheus, docker-compose, chromium',
};

export const INSTALL_NODE: Fix = {
  command: 'export PATH="$(bash scripts/install-node.sh):$PATH"',
  does: 'Node 24 from the npm registry into ~/.cache/order-mail, first on PATH (or: nvm install, which reads .nvmrc)',
};

/**
 * The message for a list of results, or undefined when nothing is missing: every problem, then
 * every distinct fix once, in the order of the first problem that needs it.
 */
export function preflightReport(results: CheckResult[]): string | undefined {
  const failed = results.filter((r) => r.problem !== undefined);
  if (failed.length === 0) return undefined;
  const fixes: Fix[] = [];
  for (const r of failed) {
    if (r.fix && !fixes.some((f) => f.command === r.fix?.command)) fixes.push(r.fix);
  }
  const width = Math.max(...fixes.map((f) => f.command.length));
  const lines = [
    `npm test cannot run: ${failed.length === 1 ? '1 prerequisite is' : `${failed.length} prerequisites are`} missing.`,
    '',
    ...failed.map((r) => `  ✗ ${r.name}: ${r.problem}`),
  ];
  if (fixes.length > 0) {
    lines.push('', `To fix (then run npm test again):`, '');
    lines.push(...fixes.map((f) => `  ${f.command.padEnd(width)}  # ${f.does}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The least major version an `engines.node` range such as ">=24" or "^24.1.0" allows. */
export function minimumNodeMajor(range: string): number {
  const match = /(\d+)/.exec(range);
  if (!match) throw new Error(`cannot read a Node version from engines.node "${range}"`);
  return Number(match[1]);
}

export function checkNodeVersion(version: string, range: string, execPath: string): CheckResult {
  const min = minimumNodeMajor(range);
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  return {
    name: `Node.js ${min} or later (package.json engines "${range}")`,
    ...(major >= min ? {} : { problem: `this is Node ${version.replace(/^v/, '')} (${execPath})`, fix: INSTALL_NODE }),
  };
}

/** host and port of a URL, with the scheme's default port. */
export function endpointOf(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port ? Number(parsed.port) : defaultPort };
}

/** The password in a URL replaced by ***, for messages. */
export function masked(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// The checks (they touch the machine)
// ---------------------------------------------------------------------------------------------

const ROOT = join(__dirname, '..');
const TIMEOUT_MS = 3000;
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RABBITMQ_PROMETHEUS_ADDRESS = process.env.RABBITMQ_PROMETHEUS_ADDRESS ?? '127.0.0.1:15692';
const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
// Debian's chromium, never a browser a package downloaded (services/mailer/src/entry-points/cli/preview-browser.ts).
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The command's path on PATH (as the tests' child processes will find it), or undefined. */
function onPath(command: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, command))
    .find(isExecutable);
}

/** A command the tests run from PATH; Debian puts the RabbitMQ ones in /usr/sbin. */
function commandCheck(command: string, neededBy: string): CheckResult {
  const name = `\`${command}\` on PATH (${neededBy})`;
  if (onPath(command)) return { name };
  if (isExecutable(join('/usr/sbin', command))) {
    return {
      name,
      problem: 'installed in /usr/sbin, which is not on PATH',
      fix: { command: 'export PATH="$PATH:/usr/sbin"', does: 'RabbitMQ installs its commands in /usr/sbin' },
    };
  }
  return { name, problem: 'not installed', fix: SETUP_DEBIAN };
}

function run(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: TIMEOUT_MS }, (error) => resolve(!error));
  });
}

async function checkRabbitMq(): Promise<CheckResult> {
  const name = `RabbitMQ at AMQP_URL ${masked(AMQP_URL)}`;
  const { host, port } = endpointOf(AMQP_URL, 5672);
  const error = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port, timeout: TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`no answer from ${host}:${port} within ${TIMEOUT_MS} ms`);
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      resolve(`cannot connect to ${host}:${port} (${err.code ?? err.message})`),
    );
  });
  return error ? { name, problem: error, fix: SETUP_DEBIAN } : { name };
}

async function checkRabbitMqPrometheus(): Promise<CheckResult> {
  const url = `http://${RABBITMQ_PROMETHEUS_ADDRESS}/metrics/detailed?family=queue_coarse_metrics`;
  const name = `RabbitMQ's Prometheus endpoint ${RABBITMQ_PROMETHEUS_ADDRESS} (test/infra/dashboards.test.ts)`;
  const fix: Fix = {
    command: 'rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus',
    does: "RabbitMQ's Prometheus plugin (as root; bash scripts/setup-debian.sh does it too)",
  };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    return response.ok ? { name } : { name, problem: `GET ${url} answered ${response.status}`, fix };
  } catch (err) {
    const { cause } = err as { cause?: { code?: string; message?: string } };
    const reason = cause?.code ?? cause?.message ?? (err as Error).message;
    return { name, problem: `cannot reach ${url} (${reason})`, fix };
  }
}

/** Debian's newest PostgreSQL cluster version (/etc/postgresql/<version>), for the commands above. */
function postgresVersion(): string {
  try {
    const versions = readdirSync('/etc/postgresql').filter((v) => /^\d+$/.test(v));
    return versions.sort((a, b) => Number(a) - Number(b)).at(-1) ?? '15';
  } catch {
    return '15';
  }
}

async function checkPostgres(): Promise<CheckResult> {
  const name = `PostgreSQL at DATABASE_URL ${masked(DATABASE_URL)}`;
  const client = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return { name };
  } catch (err) {
    const e = err as Error & { code?: string };
    const problem = e.code ? `${e.message} (${e.code})` : e.message;
    const url = new URL(DATABASE_URL);
    const database = decodeURIComponent(url.pathname.slice(1)) || 'test';
    if (e.code === '3D000') {
      return {
        name,
        problem,
        fix: { command: `su postgres -c "createdb ${database}"`, does: `creates the database ${database}` },
      };
    }
    if ((e.code === '28P01' || e.code === '28000') && url.username !== 'postgres') {
      return {
        name,
        problem,
        fix: { command: 'unset DATABASE_URL', does: 'the tests default to postgres://postgres@127.0.0.1:5432/test' },
      };
    }
    if (e.code === '28P01' || e.code === '28000') {
      const version = postgresVersion();
      return {
        name,
        problem,
        fix: {
          command: `sed -i '1i host all all 127.0.0.1/32 trust' /etc/postgresql/${version}/main/pg_hba.conf && pg_ctlcluster ${version} main reload`,
          does: 'lets user postgres in from 127.0.0.1 without a password',
        },
      };
    }
    return { name, problem, fix: SETUP_DEBIAN };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function checkPrometheusBinary(): CheckResult {
  const name = `prometheus at ${PROMETHEUS_BIN} (test/infra/dashboards.test.ts runs it; PROMETHEUS_BIN)`;
  return isExecutable(PROMETHEUS_BIN) ? { name } : { name, problem: 'not found', fix: SETUP_DEBIAN };
}

function checkChromium(): CheckResult {
  const name = `Chromium at ${CHROMIUM_PATH} (test/browser renders every sample email in it; CHROMIUM_PATH)`;
  return isExecutable(CHROMIUM_PATH)
    ? { name }
    : { name, problem: "not found: install Debian's chromium package", fix: SETUP_DEBIAN };
}

async function checkCompose(): Promise<CheckResult> {
  const name = 'docker-compose, or the docker compose plugin (npm run check:compose validates docker-compose.yml)';
  if (onPath('docker-compose')) return { name };
  if (onPath('docker') && (await run('docker', ['compose', 'version']))) return { name };
  return { name, problem: 'neither is installed', fix: SETUP_DEBIAN };
}

function checkRoot(): CheckResult {
  const name = 'root (test/faults/broker-restart.test.ts starts a RabbitMQ node of its own as user rabbitmq)';
  if (typeof process.getuid !== 'function' || process.getuid() === 0) return { name };
  return {
    name,
    problem: `running as uid ${process.getuid()}`,
    fix: { command: 'sudo env "PATH=$PATH" npm test', does: 'runs the tests as root' },
  };
}

function checkNode(): CheckResult {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  return checkNodeVersion(process.version, pkg.engines.node, process.execPath);
}

/** Every prerequisite of `npm test`, in the order the message lists them. */
const CHECKS: Array<() => CheckResult | Promise<CheckResult>> = [
  checkNode,
  checkRabbitMq,
  checkRabbitMqPrometheus,
  () => commandCheck('rabbitmq-server', 'test/faults/broker-restart.test.ts starts a second node'),
  () => commandCheck('rabbitmqctl', 'test/faults/broker-restart.test.ts'),
  checkRoot,
  checkPostgres,
  () => commandCheck('promtool', 'test/infra checks metrics and alert rules'),
  checkPrometheusBinary,
  checkCompose,
  checkChromium,
];

async function main(): Promise<void> {
  const results = await Promise.all(CHECKS.map((check) => check()));
  const report = preflightReport(results);
  if (report) {
    process.stderr.write(report);
    process.exit(1);
  }
  process.stdout.write(`preflight: ok (Node ${process.versions.node}; ${results.length} prerequisites checked)\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`preflight: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
