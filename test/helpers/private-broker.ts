import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A RabbitMQ node of one test file's own, so restarting it leaves the shared broker alone. */
export interface PrivateBroker {
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  url: string;
  /** `<name>@localhost`, for `rabbitmqctl -n`. */
  nodeName: string;
  /** Stops the RabbitMQ application (clients are disconnected), keeping the Erlang node up. */
  stopApp(): Promise<void>;
  /** Starts the RabbitMQ application again; resolves once it accepts connections. */
  startApp(): Promise<void>;
  /** Stops the node and removes its data directory. */
  shutdown(): Promise<void>;
}

const START_TIMEOUT_S = 60;
const COMMAND_TIMEOUT_MS = 90_000;

/** A TCP port nobody listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs a command; on failure the error names the command and carries its output. */
async function exec(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(file, args, { env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    const status = e.signal ? `signal ${e.signal}` : `exit code ${String(e.code)}`;
    const output = [e.stderr?.trim() && `stderr: ${e.stderr.trim()}`, e.stdout?.trim() && `stdout: ${e.stdout.trim()}`]
      .filter(Boolean)
      .join('\n');
    throw new Error(`\`${file} ${args.join(' ')}\` failed (${status})${output ? `:\n${output}` : ''}`, { cause: err });
  }
}

/** The end of the node's log files, to explain a failed start. */
async function logTail(logDir: string, lines = 40): Promise<string> {
  try {
    const files = (await readdir(logDir)).filter((f) => f.endsWith('.log'));
    const parts = await Promise.all(
      files.map(async (f) => {
        const text = await readFile(path.join(logDir, f), 'utf8');
        return `--- ${f} ---\n${text.split('\n').slice(-lines).join('\n')}`;
      }),
    );
    return parts.join('\n');
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a second RabbitMQ node (needs root and `rabbitmq-server` installed), on free AMQP and
 * Erlang distribution ports, with its data in a temporary directory. Takes about 5 s.
 */
export async function startPrivateBroker(): Promise<PrivateBroker> {
  const [amqpPort, distPort] = await Promise.all([freePort(), freePort()]);
  if (amqpPort === distPort) throw new Error(`the OS handed out port ${amqpPort} twice; try again`);
  const nodeName = `ordermail-${randomBytes(4).toString('hex')}@localhost`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'order-mail-rmq-'));
  const pidFile = path.join(dir, 'pid');
  const logDir = path.join(dir, 'log');
  await mkdir(path.join(dir, 'mnesia'));
  await mkdir(logDir);
  await writeFile(path.join(dir, 'enabled_plugins'), '[].\n');
  await writeFile(path.join(dir, 'rabbitmq.conf'), 'loopback_users = none\n');
  // rabbitmq-server switches to the rabbitmq user, which must own everything it writes to.
  await exec('chown', ['-R', 'rabbitmq:rabbitmq', dir]);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Wins over NODENAME in /etc/rabbitmq/rabbitmq-env.conf.
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: logDir,
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: pidFile,
    RABBITMQ_FEATURE_FLAGS_FILE: path.join(dir, 'feature_flags'),
    // Without the extension: RabbitMQ adds `.conf` itself.
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq'),
  };
  const ctl = (...args: string[]) => exec('rabbitmqctl', ['-n', nodeName, ...args], env);

  let removed = false;
  const removeDir = async () => {
    if (removed) return;
    removed = true;
    await rm(dir, { recursive: true, force: true });
  };
  /** Stops the node however it can: politely (waiting for its process to exit), else by its pid. */
  const stopNode = async (): Promise<void> => {
    const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
    const known = Number.isInteger(pid) && pid > 0;
    try {
      // With the pid file, `stop` returns only once the node's process has exited.
      await ctl('stop', pidFile);
    } catch (err) {
      if (!known) throw err;
    }
    if (known && isAlive(pid)) process.kill(pid, 'SIGKILL');
  };

  try {
    await exec('rabbitmq-server', ['-detached'], env);
    await ctl('wait', pidFile, '--timeout', String(START_TIMEOUT_S));
  } catch (err) {
    const tail = await logTail(logDir);
    await stopNode().catch(() => undefined);
    await removeDir().catch(() => undefined);
    throw new Error(`could not start private RabbitMQ node ${nodeName}: ${(err as Error).message}\n${tail}`, {
      cause: err,
    });
  }

  return {
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    nodeName,
    async stopApp() {
      await ctl('stop_app');
    },
    async startApp() {
      await ctl('start_app');
    },
    async shutdown() {
      try {
        await stopNode();
      } finally {
        await removeDir();
      }
    },
  };
}
