/**
 * The benchmark's SMTP sink, a process of its own (`startSmtpSink` in sink-process.ts starts it):
 *
 *   node --import tsx scripts/bench/smtp-sink.ts
 *
 * An smtp-server on 127.0.0.1 (a free port), without authentication, STARTTLS, reverse lookups or
 * smtp-server's fixed 100 ms greeting delay (see `PromptConnection`). It accepts every message,
 * reads only its header block (up to the first blank line, at most 8 KiB) to find the order id —
 * the mailer's `X-Order-Id` header, else a `Subject: Your order <id> is confirmed` — and the
 * `Message-ID`, records when it arrived, and drains the rest unread. A control server on
 * 127.0.0.1 answers `GET /stats` (`{count, firstAt, lastAt, arrivals, duplicates}`, epoch ms) and
 * `POST /reset`. Once both
 * listen, it prints one line to stdout: `{"smtpPort":N,"controlPort":M}`. SIGTERM ends it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';

/** How much of a message is searched for its headers. */
const HEADER_LIMIT = 8 * 1024;

/**
 * smtp-server (3.21.6, `SMTPConnection.init`, dist/cjs/smtp-connection.js) greets every client
 * only after `setTimeout(() => this.connectionReady(), 100)`: a fixed delay to catch clients that
 * talk before the greeting. It has no option to turn it off. This connection does what `init`
 * does without the timer: it sets the socket's listeners, then calls `connectionReady` (the
 * reverse lookup, which the server's `disableReverseLookup` skips, `onConnect`, then the 220
 * greeting) at once. A client that talks first is still refused, as before: the connection is
 * not `_ready` until the greeting went out. `init`'s `maxClients` check is left out because the
 * sink sets no `maxClients`.
 */
class PromptConnection extends SMTPConnection {
  override init(): void {
    this._setListeners(() => this.connectionReady());
  }
}

/**
 * An SMTPServer whose connections are `PromptConnection`s. `connect` is smtp-server 3.21.6's own
 * (dist/cjs/smtp-server.js), with the connection class swapped: it is the one place the server
 * constructs a connection, for plain sockets and after a PROXY header or a TLS handshake alike.
 */
class PromptSmtpServer extends SMTPServer {
  override connect(socket: Socket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new PromptConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
  }
}

/** The Message-IDs of an order that arrived more than once: its first copy's, and each later copy's (null: none). */
interface Duplicates {
  first: string | null;
  later: (string | null)[];
}

/**
 * What the sink has accepted since the last reset; `arrivals` keeps each order id's first
 * arrival, `messageIds` its first copy's Message-ID, `duplicates` only the orders that came again.
 */
const state = {
  count: 0,
  firstAt: null as number | null,
  lastAt: null as number | null,
  arrivals: new Map<string, number>(),
  messageIds: new Map<string, string | null>(),
  duplicates: new Map<string, Duplicates>(),
};

function record(orderId: string | undefined, messageId: string | null): void {
  const now = Date.now();
  state.count += 1;
  state.firstAt ??= now;
  state.lastAt = now;
  if (orderId === undefined) return;
  if (!state.arrivals.has(orderId)) {
    state.arrivals.set(orderId, now);
    state.messageIds.set(orderId, messageId);
    return;
  }
  const seen = state.duplicates.get(orderId) ?? { first: state.messageIds.get(orderId) ?? null, later: [] };
  seen.later.push(messageId);
  state.duplicates.set(orderId, seen);
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`); other charsets are read as latin1. */
function decodeEncodedWords(value: string): string {
  // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_word, charset, kind, text) => {
      const bytes =
        kind.toUpperCase() === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text
                .replace(/_/g, ' ')
                .replace(/=([0-9A-Fa-f]{2})/g, (_hex: string, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              'latin1',
            );
      return bytes.toString(/^utf-?8$/i.test(charset) ? 'utf8' : 'latin1');
    });
}

/**
 * The order id a message's header block names: its `X-Order-Id` header (the mailer sends one),
 * else the id in an English `Subject: Your order <id> is confirmed`; undefined when neither.
 */
function orderIdOf(headerBlock: string): string | undefined {
  const unfolded = headerBlock.replace(/\r?\n[ \t]+/g, ' ');
  const header = /^X-Order-Id:[ \t]*(\S+)/im.exec(unfolded)?.[1];
  if (header !== undefined) return header;
  const subject = /^Subject:[ \t]*(.*)$/im.exec(unfolded)?.[1];
  return subject === undefined ? undefined : /^Your order (\S+) is confirmed/.exec(decodeEncodedWords(subject))?.[1];
}

/** The `Message-ID` a message's header block names (`<…>`), or null when it has none. */
function messageIdOf(headerBlock: string): string | null {
  return /^Message-ID:[ \t]*(<[^>\r\n]*>)/im.exec(headerBlock.replace(/\r?\n[ \t]+/g, ' '))?.[1] ?? null;
}

/** Reads the message's header block, lets the rest flow by, and accepts it once it has ended. */
function onData(stream: Readable, _session: unknown, callback: (err?: Error | null) => void): void {
  let head = '';
  let headDone = false;
  stream.on('data', (chunk: Buffer) => {
    if (headDone) return;
    head += chunk.toString('latin1');
    const blank = head.search(/\r?\n\r?\n/);
    if (blank >= 0) head = head.slice(0, blank);
    headDone = blank >= 0 || head.length >= HEADER_LIMIT;
  });
  stream.on('end', () => {
    // The header block is read as latin1 so a cut never breaks a character; ids are ASCII.
    const headerBlock = head.slice(0, HEADER_LIMIT);
    record(orderIdOf(headerBlock), messageIdOf(headerBlock));
    callback();
  });
}

function control(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  if (req.method === 'GET' && req.url === '/stats') {
    const { count, firstAt, lastAt, arrivals, duplicates } = state;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        count,
        firstAt,
        lastAt,
        arrivals: Object.fromEntries(arrivals),
        duplicates: Object.fromEntries(duplicates),
      }),
    );
  } else if (req.method === 'POST' && req.url === '/reset') {
    const empty = { arrivals: new Map(), messageIds: new Map(), duplicates: new Map() };
    Object.assign(state, { count: 0, firstAt: null, lastAt: null, ...empty });
    res.writeHead(204).end();
  } else {
    res.writeHead(404).end();
  }
}

const smtpOptions: SMTPServerOptions = {
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  logger: false,
  onData,
};

async function main(): Promise<void> {
  const smtp = new PromptSmtpServer(smtpOptions);
  smtp.on('error', () => undefined); // a client's broken connection is not the sink's failure
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const http = createServer(control);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  const controlPort = (http.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ smtpPort, controlPort })}\n`);
  // Pooled clients keep their connections open, and smtp-server's close would wait for them: the
  // sink is only ever stopped when the benchmark is done with it, so it just exits.
  process.once('SIGTERM', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`smtp sink failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
