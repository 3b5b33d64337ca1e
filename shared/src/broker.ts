import * as amqp from 'amqplib';
import { amqpConnectTarget, amqpNodeLabel, parseAmqpNodeList, type AmqpConnectTarget } from './amqp-nodes';
import { describeErrorCause, maskUrlPassword } from './diagnostics';
import type { Logger } from './logger';

export type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage } from 'amqplib';

/** Opens channels during (re)connection setup; each comes with error listeners attached. */
export interface ChannelOpener {
  channel(): Promise<amqp.Channel>;
  confirmChannel(): Promise<amqp.ConfirmChannel>;
  /**
   * A channel whose closing does not restart the connection: for a declaration that may be
   * refused (a 406 closes the channel it was made on) and is then made another way. The caller
   * closes it.
   */
  scratchChannel(): Promise<amqp.Channel>;
}

export interface BrokerLink {
  /** True while a connection is open and its setup (topology, channels, consumers) has completed. */
  isConnected(): boolean;
  /** `host:port` of the node the connection is open to (one of AMQP_URL's), null while not connected. */
  node(): string | null;
  /** Resolves after the first successful connection and setup. */
  waitForConnect(): Promise<void>;
  /**
   * A short-lived channel on the current connection (waits for one), for work outside the
   * setup, e.g. an admin request. The caller closes it; it does not survive a reconnect.
   */
  openChannel(): Promise<amqp.Channel>;
  openConfirmChannel(): Promise<amqp.ConfirmChannel>;
  close(): Promise<void>;
}

export interface OpenBrokerOptions {
  /** AMQP_URL: one node's URL, or several separated by commas (`parseAmqpNodeList`). */
  url: string;
  /** Shown in RabbitMQ's management UI as the connection name. */
  connectionName: string;
  logger: Logger;
  /**
   * Runs after every (re)connect. Channels, topology and consumers do not survive a lost
   * connection, so everything they need is (re)created here.
   */
  setup(open: ChannelOpener): Promise<void>;
  /** Called when an established connection is lost, before recovery starts. */
  onDisconnect?(err: Error): void;
}

const CONNECT_FAILURE_REMINDER_MS = 60_000;

/** One node of AMQP_URL: its URL, `host:port` for logs, and what amqplib connects to. */
interface BrokerNode {
  url: string;
  label: string;
  target: AmqpConnectTarget;
}

/** The node the next (or current) connection goes to. */
const currentNode = (state: LinkState): BrokerNode => state.nodes[state.nodeIndex];

/** What the connection's listeners and the returned link share. */
interface LinkState {
  connected: boolean;
  stopping: boolean;
  // Channels of the current connection, closed one by one on shutdown: a graceful channel close
  // makes the broker process every ack sent on it first, a bare connection close does not.
  channels: Set<amqp.Channel>;
  /** The last connect failure logged per node, to log a cause once and then remind once a minute. */
  lastFailure: Map<string, { cause: string; at: number }>;
  /** AMQP_URL's nodes (each parsed once, at start), and the one the next (or current) connection goes to. */
  nodes: BrokerNode[];
  nodeIndex: number;
  /** What amqplib connects to: reassigned to the next node when a connection fails or is lost. */
  target: AmqpConnectTarget;
}

/**
 * amqplib's recovery `setup`, run after every (re)connect: hands `options.setup` channels that
 * log their errors and, should one close on its own, close the connection so that recovery runs
 * setup again from a known-good state.
 */
function recoverySetup(options: OpenBrokerOptions, state: LinkState): (raw: amqp.ChannelModel) => Promise<void> {
  const { logger } = options;
  return async (raw) => {
    // Listeners are bound by amqplib only after setup returns; until then an 'error' without a
    // listener would crash the process. At debug: this one stays bound after setup, when the
    // recovering model's 'disconnect' (or a failed setup's 'connect-failed') reports the loss.
    raw.on('error', (err: Error) => logger.debug({ err }, 'broker connection error'));
    state.channels = new Set();
    const watch = <C extends amqp.Channel>(ch: C): C => {
      ch.on('error', (err: Error) => logger.warn({ err }, 'broker channel error'));
      ch.on('handler-error', (err: Error, event: string) =>
        logger.error({ err, event }, 'broker channel handler threw'),
      );
      state.channels.add(ch);
      ch.on('close', () => {
        state.channels.delete(ch);
        if (state.stopping) return;
        // The connection may still be open; force a full recovery so setup runs again.
        raw.close().catch(() => undefined);
      });
      return ch;
    };
    await options.setup({
      channel: async () => watch(await raw.createChannel()),
      confirmChannel: async () => watch(await raw.createConfirmChannel()),
      scratchChannel: async () => {
        const ch = await raw.createChannel();
        ch.on('error', (err: Error) => logger.debug({ err }, 'broker scratch channel closed'));
        return ch;
      },
    });
  };
}

/** Logs a failed (re)connect attempt: a refused topology at error, an unreachable broker sparingly. */
function logConnectFailure(options: OpenBrokerOptions, state: LinkState, err: Error): void {
  const { logger } = options;
  if ((err as { code?: unknown }).code === 406) {
    // Retrying cannot fix this: a queue or exchange exists with other arguments than ours.
    logger.error(
      { err },
      'broker refused our topology (PRECONDITION_FAILED): an existing queue or exchange has other arguments; ' +
        'restore the old setting or delete it (after draining it), then this service connects by itself',
    );
    return;
  }
  // Retried every few seconds for as long as the broker is away: one plain line when the cause
  // changes, then a reminder a minute, never a stack (nothing in our code is wrong).
  const cause = describeErrorCause(err) || err.message;
  const node = currentNode(state);
  const now = Date.now();
  const last = state.lastFailure.get(node.label);
  if (last?.cause === cause && now - last.at < CONNECT_FAILURE_REMINDER_MS) return;
  state.lastFailure.set(node.label, { cause, at: now });
  const where =
    state.nodes.length > 1
      ? `${maskUrlPassword(node.url)}, node ${state.nodeIndex + 1} of ${state.nodes.length} in AMQP_URL (${cause}); trying the next`
      : `AMQP_URL ${maskUrlPassword(node.url)} (${cause}); retrying`;
  logger.warn(
    { amqpUrl: maskUrlPassword(node.url), node: node.label, cause, error: err.message },
    `broker not reachable at ${where}`,
  );
}

/**
 * Points the next connection at the next node of AMQP_URL (after the last, the first again):
 * amqplib's recovery reconnects to whatever `state.target` says when its delay is over.
 */
function rotateNode(state: LinkState): void {
  if (state.nodes.length < 2) return;
  state.nodeIndex = (state.nodeIndex + 1) % state.nodes.length;
  Object.assign(state.target, currentNode(state).target);
}

/** Follows the connection's life: connected or not, and a log line for each change. */
function watchConnection(model: amqp.RecoveringChannelModel, options: OpenBrokerOptions, state: LinkState): void {
  const { logger } = options;
  model.on('connect', () => {
    state.connected = true;
    state.lastFailure.clear();
    logger.info({ node: currentNode(state).label }, 'broker connected');
  });
  model.on('disconnect', (err: Error) => {
    state.connected = false;
    const node = currentNode(state).label;
    // The node may be the one that went away: the next connection tries the next one.
    rotateNode(state);
    logger.warn({ err, node, next: currentNode(state).label }, 'broker connection lost, reconnecting');
    options.onDisconnect?.(err);
  });
  model.on('connect-failed', (err: Error) => {
    logConnectFailure(options, state, err);
    rotateNode(state);
  });
  model.on('error', (err: Error) => logger.warn({ err }, 'broker connection error'));
  model.on('handler-error', (err: Error, event: string) => logger.error({ err, event }, 'broker handler threw'));
  model.on('blocked', (reason: string) => logger.warn({ reason }, 'broker blocked publishing'));
  model.on('unblocked', () => logger.info('broker unblocked publishing'));
}

/**
 * A RabbitMQ connection that recovers by itself (amqplib's built-in recovery, retrying forever
 * with capped backoff). A channel that closes on its own (e.g. a channel-level protocol error)
 * closes the whole connection, so recovery rebuilds a known-good state instead of limping on.
 * With several nodes in `url` it connects to the first that answers, and after a failed attempt
 * or a lost connection tries the next (in order, round and round): amqplib recovers the
 * connection, we choose where to. Throws a TypeError when `url` is not a valid node list (config
 * refuses those first).
 */
export async function openBroker(options: OpenBrokerOptions): Promise<BrokerLink> {
  const { logger } = options;
  const parsed = parseAmqpNodeList(options.url);
  if (!parsed.ok) throw new TypeError(`AMQP_URL ${parsed.message}`);
  const state: LinkState = {
    connected: false,
    stopping: false,
    channels: new Set(),
    lastFailure: new Map(),
    // Each node's target is made now: a node that cannot be is a start-up error, never one
    // thrown later from a reconnect listener.
    nodes: parsed.urls.map((url) => ({ url, label: amqpNodeLabel(url), target: amqpConnectTarget(url) })),
    nodeIndex: 0,
    target: { ...amqpConnectTarget(parsed.urls[0]) },
  };
  // amqplib reads the object at each (re)connect, so `rotateNode` can change it in place.
  const model = await amqp.connect(state.target as amqp.Options.Connect, {
    clientProperties: { connection_name: options.connectionName },
    recovery: {
      waitForConnect: false,
      initialDelay: 200,
      maxDelay: 5000,
      maxRetries: Infinity,
      setup: recoverySetup(options, state),
    },
  });
  watchConnection(model, options, state);

  const adHoc = <C extends amqp.Channel>(ch: C): C => {
    ch.on('error', (err: Error) => logger.warn({ err }, 'broker channel error'));
    return ch;
  };

  return {
    isConnected: () => state.connected && !state.stopping,
    node: () => (state.connected && !state.stopping ? currentNode(state).label : null),
    openChannel: async () => adHoc(await model.createChannel()),
    openConfirmChannel: async () => adHoc(await model.createConfirmChannel()),
    waitForConnect: () => model.waitForConnect().then(() => undefined),
    close: async () => {
      state.stopping = true;
      state.connected = false;
      for (const ch of [...state.channels]) {
        await ch.close().catch((err: unknown) => logger.debug({ err }, 'channel already closed'));
      }
      await model.close();
    },
  };
}
