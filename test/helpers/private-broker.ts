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

/** Where a node of ours listens, and what it is called. */
interface NodeSpec {
  nodeName: string;
  amqpPort: number;
  distPort: number;
  /** The management plugin's HTTP port; without it the node runs no plugin at all. */
  managementPort?: number;
  /** With `managementPort`: false leaves the plugin off until `enableManagement()` (and the next start_app). */
  managementAtBoot?: boolean;
}

/** A node's files and commands: its own temporary directory, its environment, `rabbitmqctl -n` for it. */
interface NodeHandle {
  nodeName: string;
  logDir: string;
  ctl(...args: string[]): Promise<string>;
  /** `rabbitmq-server -detached`, then waits (at most START_TIMEOUT_S) until the application runs. */
  start(): Promise<void>;
  /** Stops the node however it can: politely (waiting for its process to exit), else by its pid. */
  stop(): Promise<void>;
  /** Removes the node's directory (data, logs, config); at most once. */
  removeDir(): Promise<void>;
  /** Lists the management plugin in the node's enabled_plugins file: it runs from the next start_app. */
  enableManagement(): Promise<void>;
}

const MANAGEMENT_PLUGINS = '[rabbitmq_management].\n';

/** Writes a node's config into a temporary directory the rabbitmq user owns. */
async function prepareNode(spec: NodeSpec): Promise<NodeHandle> {
  const { nodeName } = spec;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'order-mail-rmq-'));
  const pidFile = path.join(dir, 'pid');
  const logDir = path.join(dir, 'log');
  const enabledPlugins = path.join(dir, 'enabled_plugins');
  let removed = false;
  const removeDir = async () => {
    if (removed) return;
    removed = true;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(path.join(dir, 'mnesia'));
    await mkdir(logDir);
    const conf = ['loopback_users = none'];
    if (spec.managementPort !== undefined) {
      conf.push(
        `management.tcp.port = ${spec.managementPort}`,
        'management.tcp.ip = 127.0.0.1',
        // Queue statistics (messages, online members) reach the management API each interval (5 s by default).
        'collect_statistics_interval = 1000',
      );
    }
    const managementNow = spec.managementPort !== undefined && spec.managementAtBoot !== false;
    await writeFile(enabledPlugins, managementNow ? MANAGEMENT_PLUGINS : '[].\n');
    await writeFile(path.join(dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
    // rabbitmq-server switches to the rabbitmq user, which must own everything it writes to.
    await exec('chown', ['-R', 'rabbitmq:rabbitmq', dir]);
  } catch (err) {
    await removeDir().catch(() => undefined);
    throw err;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Wins over NODENAME in /etc/rabbitmq/rabbitmq-env.conf.
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(spec.amqpPort),
    RABBITMQ_DIST_PORT: String(spec.distPort),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: logDir,
    RABBITMQ_ENABLED_PLUGINS_FILE: enabledPlugins,
    RABBITMQ_PID_FILE: pidFile,
    RABBITMQ_FEATURE_FLAGS_FILE: path.join(dir, 'feature_flags'),
    // Without the extension: RabbitMQ adds `.conf` itself.
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq'),
  };
  const ctl = (...args: string[]) => exec('rabbitmqctl', ['-n', nodeName, ...args], env);
  const stop = async (): Promise<void> => {
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
  const start = async (): Promise<void> => {
    try {
      await exec('rabbitmq-server', ['-detached'], env);
      await ctl('wait', pidFile, '--timeout', String(START_TIMEOUT_S));
    } catch (err) {
      throw new Error(
        `could not start private RabbitMQ node ${nodeName}: ${(err as Error).message}\n${await logTail(logDir)}`,
        { cause: err },
      );
    }
  };
  // The file already belongs to the rabbitmq user; overwriting it keeps its owner.
  const enableManagement = () => writeFile(enabledPlugins, MANAGEMENT_PLUGINS);
  return { nodeName, logDir, ctl, start, stop, removeDir, enableManagement };
}

/** Stops a node (if it runs) and removes its directory, whatever happens; throws what went wrong. */
async function disposeNode(node: NodeHandle): Promise<void> {
  try {
    await node.stop();
  } finally {
    await node.removeDir();
  }
}

/**
 * `count` distinct TCP ports nobody listens on right now (held open together while the OS picks,
 * so they differ), outside the ports `rabbitmqctl` itself listens on (35672-35682).
 */
async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const servers = Array.from({ length: count }, () => createServer());
    try {
      const ports = await Promise.all(
        servers.map(
          (server) =>
            new Promise<number>((resolve, reject) => {
              server.once('error', reject);
              server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
            }),
        ),
      );
      if (ports.every((p) => p < 35672 || p > 35682)) return ports;
    } finally {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  }
  throw new Error(`could not find ${count} free ports outside rabbitmqctl's range`);
}

/**
 * Starts a second RabbitMQ node (needs root and `rabbitmq-server` installed), on free AMQP and
 * Erlang distribution ports, with its data in a temporary directory. Takes about 5 s.
 */
export async function startPrivateBroker(): Promise<PrivateBroker> {
  const [amqpPort, distPort] = await Promise.all([freePort(), freePort()]);
  if (amqpPort === distPort) throw new Error(`the OS handed out port ${amqpPort} twice; try again`);
  const nodeName = `ordermail-${randomBytes(4).toString('hex')}@localhost`;
  const node = await prepareNode({ nodeName, amqpPort, distPort });
  try {
    await node.start();
  } catch (err) {
    await disposeNode(node).catch(() => undefined);
    throw err;
  }

  return {
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    nodeName,
    async stopApp() {
      await node.ctl('stop_app');
    },
    async startApp() {
      await node.ctl('start_app');
    },
    async shutdown() {
      await disposeNode(node);
    },
  };
}

/** One node of a `PrivateCluster`. */
export interface ClusterNode {
  /** `<name>@localhost`, as RabbitMQ (and the management API's `leader`, `members`) names it. */
  name: string;
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>`, the management plugin's HTTP API (guest:guest). */
  managementUrl: string;
}

/** What the management API says of a queue (`GET /api/queues/%2F/<name>`). */
export interface ClusterQueueInfo {
  /** `quorum`, `classic` or `stream`. */
  type: string;
  /** The index (in `nodes`) of the node that leads the queue (a quorum queue's Raft leader), if known yet. */
  leader: number | undefined;
  /** The leader's node name, as the API gives it. */
  leaderName: string | undefined;
  /** The nodes holding a replica of the queue (quorum queues), by name. */
  members: string[];
  /** The members currently online, by name. */
  online: string[];
  /** Messages in the queue (ready and unacknowledged), as of the last statistics round. */
  messages: number;
}

export interface PrivateCluster {
  nodes: ClusterNode[];
  /** Every node's AMQP URL, comma-separated, the first node first (for AMQP_URL). */
  amqpUrlList: string;
  /** How long the start took: the nodes' own (in parallel), then the joins (one after another). */
  startup: { nodesMs: number; joinsMs: number };
  /** `rabbitmqctl stop_app` on node `i`: its clients are disconnected, its Erlang node stays up. */
  stopNode(i: number): Promise<void>;
  /**
   * `rabbitmqctl start_app` on node `i`; resolves once the node's application runs, every node
   * not stopped here counts it among the cluster's running nodes, and its management API answers.
   */
  startNode(i: number): Promise<void>;
  /** Whether node `i` runs (false between `stopNode(i)` and `startNode(i)`). */
  isRunning(i: number): boolean;
  /** The queue (in vhost `/`) as the management API of the first running node that answers describes it. */
  queueInfo(queue: string): Promise<ClusterQueueInfo>;
  /**
   * The index of the node that leads `queue`, per the management API; waits (up to `timeoutMs`)
   * until it names a running node other than `not` (statistics lag by up to a second or so).
   */
  queueLeader(queue: string, options?: { not?: number; timeoutMs?: number }): Promise<number>;
  /**
   * Stops every node (the Erlang nodes, not only the applications, stopped ones too) and removes
   * their directories; at most once (later calls get the first call's promise).
   */
  shutdown(): Promise<void>;
}

const MANAGEMENT_AUTH = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

/** GET on a node's management API; the parsed JSON, or an error naming the URL and the status. */
async function managementGet(baseUrl: string, pathname: string): Promise<unknown> {
  const url = `${baseUrl}${pathname}`;
  const response = await fetch(url, { headers: { authorization: MANAGEMENT_AUTH }, signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** The rabbitmq user's `.erlang.cookie` exists (every node and rabbitmqctl run as that user and share it). */
async function erlangCookieExists(): Promise<boolean> {
  try {
    const home = (await exec('getent', ['passwd', 'rabbitmq'])).trim().split(':')[5];
    if (!home) return false;
    await readFile(path.join(home, '.erlang.cookie'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a RabbitMQ cluster of `size` nodes on 127.0.0.1 (needs root and `rabbitmq-server`),
 * each with AMQP, Erlang distribution and management ports of its own (all free ones), its own
 * data and log directories, and the management plugin; nodes 1.. join node 0 with
 * `rabbitmqctl stop_app; join_cluster <node 0>; start_app`.
 *
 * Every node runs as the rabbitmq user (rabbitmq-server and rabbitmqctl `su` to it), whose HOME
 * (`/var/lib/rabbitmq`) holds the one `.erlang.cookie` all of them, and rabbitmqctl, use: no
 * cookie needs setting. Were that file missing, the first node would write it, so then node 0
 * starts alone before the others (else they could each write a cookie of their own).
 *
 * Timings measured for three nodes (2 CPUs, RabbitMQ 3.10.8, the shared broker running too):
 * - the nodes start in parallel: 9.5-11.5 s for all three (one node alone: 5-7.5 s);
 * - then the joins, 5.5-7.5 s: the joiners' stop_app in parallel (~1 s: they boot without the
 *   management plugin, whose stop costs 5 s), join_cluster one node after the other (~1 s each;
 *   concurrent membership changes are not something to ask of Mnesia), start_app in parallel
 *   (~2.5 s, now with the plugin);
 * - in all 16-18 s (the plain way, the plugin on from boot and each joiner's stop_app,
 *   join_cluster and start_app in turn: 28-35 s);
 * - `stopNode` 5.5-6 s (the management plugin waits 5 s; the node's AMQP clients are cut after
 *   0.6-1 s), `startNode` 2.5-3.7 s, `shutdown` ~10 s (the nodes stop in parallel, 5 s of it the
 *   management plugin again).
 *
 * A start that fails half-way stops every node it started and removes every directory before
 * throwing (a node that does not start: with the tail of its log).
 */
export async function startPrivateCluster(size = 3): Promise<PrivateCluster> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`a cluster needs at least one node, not ${size}`);
  const id = randomBytes(4).toString('hex');
  const ports = await freePorts(size * 3);
  const specs: (NodeSpec & { managementPort: number })[] = Array.from({ length: size }, (_, i) => ({
    nodeName: `ordermail-${id}-${i}@localhost`,
    amqpPort: ports[i * 3],
    distPort: ports[i * 3 + 1],
    managementPort: ports[i * 3 + 2],
    // The joiners get the plugin after joining: stopping it for the join would cost 5 s
    // ("Management plugin: to stop collect_statistics", then a 5 s wait in stop_app).
    managementAtBoot: i === 0,
  }));
  const handles: NodeHandle[] = [];
  const disposeAll = async () => {
    const outcomes = await Promise.allSettled(handles.map(disposeNode));
    const failures = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as unknown);
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cluster node(s) failed to stop`);
  };

  const began = Date.now();
  let nodesStarted = began;
  try {
    for (const spec of specs) handles.push(await prepareNode(spec));
    const cookieShared = await erlangCookieExists();
    if (!cookieShared) await handles[0].start();
    // All at once (each waits for its own), then the first failure if any: disposeAll stops them all.
    const starting = await Promise.allSettled((cookieShared ? handles : handles.slice(1)).map((h) => h.start()));
    const failed = starting.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    nodesStarted = Date.now();
    const seed = handles[0].nodeName;
    const joiners = handles.slice(1);
    // stop_app and start_app in parallel; join_cluster one node at a time (each changes the
    // cluster's membership, which Mnesia does not do concurrently well).
    await Promise.all(joiners.map((node) => node.ctl('stop_app')));
    for (const node of joiners) await node.ctl('join_cluster', seed);
    await Promise.all(joiners.map((node) => node.enableManagement()));
    await Promise.all(joiners.map((node) => node.ctl('start_app')));
    const names = handles.map((h) => h.nodeName);
    await Promise.all(handles.map((h) => waitForClusterMembers(h, names)));
    await Promise.all(specs.map((spec) => waitForManagement(spec.nodeName, `http://127.0.0.1:${spec.managementPort}`)));
  } catch (err) {
    await disposeAll().catch(() => undefined);
    throw err;
  }

  const nodes: ClusterNode[] = specs.map((s) => ({
    name: s.nodeName,
    url: `amqp://guest:guest@127.0.0.1:${s.amqpPort}`,
    managementUrl: `http://127.0.0.1:${s.managementPort}`,
  }));
  const running = nodes.map(() => true);
  let stopping: Promise<void> | undefined;
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`no node ${i} in a cluster of ${size}`);
    return handles[i];
  };
  const indexOf = (name: unknown) => {
    const i = nodes.findIndex((n) => n.name === name);
    return i < 0 ? undefined : i;
  };

  const queueInfo = async (queue: string): Promise<ClusterQueueInfo> => {
    const errors: string[] = [];
    for (const [i, node] of nodes.entries()) {
      if (!running[i]) continue;
      try {
        const q = (await managementGet(node.managementUrl, `/api/queues/%2F/${encodeURIComponent(queue)}`)) as {
          type?: string;
          leader?: string;
          node?: string;
          members?: string[];
          online?: string[];
          messages?: number;
        };
        const leaderName = q.leader ?? (q.type === 'quorum' ? undefined : q.node);
        return {
          type: q.type ?? 'unknown',
          leader: indexOf(leaderName),
          leaderName,
          members: q.members ?? [],
          online: q.online ?? [],
          messages: q.messages ?? 0,
        };
      } catch (err) {
        errors.push(`${node.name}: ${(err as Error).message}`);
      }
    }
    throw new Error(`no management API described queue ${queue}:\n${errors.join('\n')}`);
  };

  return {
    nodes,
    amqpUrlList: nodes.map((n) => n.url).join(','),
    startup: { nodesMs: nodesStarted - began, joinsMs: Date.now() - nodesStarted },
    async stopNode(i) {
      const node = check(i);
      running[i] = false;
      await node.ctl('stop_app');
    },
    async startNode(i) {
      const node = check(i);
      await node.ctl('start_app');
      running[i] = true;
      const expected = nodes.filter((_, j) => running[j]).map((n) => n.name);
      await waitForClusterMembers(node, expected);
      await Promise.all(handles.filter((_, j) => running[j] && j !== i).map((h) => waitForClusterMembers(h, expected)));
      await waitForManagement(node.nodeName, nodes[i].managementUrl);
    },
    isRunning(i) {
      check(i);
      return running[i];
    },
    queueInfo,
    async queueLeader(queue, options = {}) {
      let last: ClusterQueueInfo | undefined;
      let lastError: unknown;
      await waitFor(
        async () => {
          try {
            last = await queueInfo(queue);
          } catch (err) {
            lastError = err;
            return false;
          }
          const { leader } = last;
          return leader !== undefined && running[leader] && leader !== options.not;
        },
        options.timeoutMs ?? 30_000,
        () =>
          `a running leader of queue ${queue}${options.not === undefined ? '' : ` other than node ${options.not}`} ` +
          `(last seen: ${last ? JSON.stringify(last) : String(lastError)})`,
      );
      return last?.leader as number;
    },
    shutdown() {
      stopping ??= disposeAll();
      return stopping;
    },
  };
}

/** Polls `probe` (every 250 ms) until it returns true; rejects after `timeoutMs`, saying what it waited for. */
async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until `node` counts every one of `expected` among the cluster's running nodes (`cluster_status`). */
async function waitForClusterMembers(node: NodeHandle, expected: string[]): Promise<void> {
  let seen = '(no answer yet)';
  await waitFor(
    async () => {
      const status = JSON.parse(await node.ctl('cluster_status', '--formatter', 'json')) as {
        running_nodes?: string[];
      };
      seen = JSON.stringify(status.running_nodes ?? []);
      return expected.every((name) => status.running_nodes?.includes(name));
    },
    30_000,
    () => `${node.nodeName} to see ${JSON.stringify(expected)} running (it sees ${seen})`,
  );
}

/** Waits until a node's management API answers. */
async function waitForManagement(nodeName: string, managementUrl: string): Promise<void> {
  let lastError = '(no answer yet)';
  await waitFor(
    async () => {
      try {
        await managementGet(managementUrl, '/api/overview');
        return true;
      } catch (err) {
        lastError = (err as Error).message;
        return false;
      }
    },
    30_000,
    () => `the management API of ${nodeName} at ${managementUrl} (${lastError})`,
  );
}
