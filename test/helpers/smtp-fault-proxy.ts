import net, { type AddressInfo } from 'node:net';

/**
 * Where in an SMTP session a fault strikes, named by what the client waits for then:
 * - `greeting`: the server's greeting (nothing was read from the client yet);
 * - `ehlo`, `starttls`, `auth`, `mail`, `rcpt`: the reply to EHLO/HELO, STARTTLS, AUTH (any of
 *   its lines), MAIL FROM, RCPT TO; the command itself never reaches the server;
 * - `data`: the reply to DATA: the server never sees DATA, so the client never gets its 354;
 * - `content`: the rest of the message: the 354 came, the first chunk of content is swallowed;
 * - `final-dot`: the reply to the final dot: the whole message, final dot included, reaches the
 *   server (which may accept it), the reply never reaches the client;
 * - `idle`: a pooled connection between messages (see `closeIdle`, `dropIdleSilently`).
 */
export type SmtpStage = 'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'content' | 'final-dot';

/** `drop`: close the client's connection at once. `hang`: stop passing anything on, both ways. */
export interface SmtpFault {
  at: SmtpStage;
  action: 'drop' | 'hang';
}

export interface SmtpFaultProxy {
  port: number;
  /** `smtp://127.0.0.1:<port>`, with `user:pass@` if given. */
  url(credentials?: { user: string; pass: string }): string;
  /** Applies to the connections' next stages; null passes everything through. */
  fault: SmtpFault | null;
  /** Each fault as it struck, `<stage>:<action>` (`idle:421`, `idle:reset` for idle ones), in order. */
  struck: string[];
  /**
   * Ends every idle pooled connection the way a server's idle timeout does (RFC 5321 §4.2: a 421
   * reply, then the close); resolves once each client has closed its side, i.e. has seen it.
   */
  closeIdle(): Promise<void>;
  /**
   * Forgets every idle pooled connection without telling the client, as a NAT or firewall that
   * timed it out would: the client's next command is answered with a TCP reset.
   */
  dropIdleSilently(): void;
  close(): Promise<void>;
}

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

type Phase = SmtpStage | 'idle';

const COMMAND_STAGES: [RegExp, SmtpStage][] = [
  [/^(EHLO|HELO|LHLO)\b/i, 'ehlo'],
  [/^STARTTLS\b/i, 'starttls'],
  [/^AUTH\b/i, 'auth'],
  [/^MAIL FROM:/i, 'mail'],
  [/^RCPT TO:/i, 'rcpt'],
  [/^DATA\b/i, 'data'],
];

/**
 * A TCP proxy in front of a real SMTP server (the sink) that follows each session's SMTP
 * dialogue and drops or stalls it at a chosen stage. A real server behind it means that what the
 * sink received is what a real server would have: nothing for a session cut short before the
 * final dot, an accepted message for one cut after it.
 */
export async function startSmtpFaultProxy(target: { port: number }): Promise<SmtpFaultProxy> {
  const sessions = new Set<Session>();
  const struck: string[] = [];
  const state = { fault: null as SmtpFault | null };

  class Session {
    phase: Phase = 'greeting';
    /** Client bytes not yet split into lines (commands) or searched for the final dot (content). */
    pending = Buffer.alloc(0);
    /** Server bytes not yet split into lines. */
    replies = '';
    /**
     * The last content bytes already passed on, searched with the next ones: the final dot may
     * straddle two chunks. Starts as the CRLF that ended the DATA line, so that the final dot of
     * an empty message is found too.
     */
    contentTail = Buffer.from('\r\n');
    hung = false;
    silentlyDropped = false;
    /**
     * A fault struck at the final dot: the server's connection stays open until it has answered,
     * even once the client's is gone (closing both at once could cut off the message's last bytes).
     */
    awaitingServerReply = false;
    upstream: net.Socket | null = null;

    constructor(readonly client: net.Socket) {
      sessions.add(this);
      client.on('error', () => undefined);
      client.on('close', () => {
        if (this.awaitingServerReply) return;
        sessions.delete(this);
        this.upstream?.destroy();
      });
      const fault = this.faultAt('greeting');
      if (fault) {
        this.strike(fault);
        return;
      }
      const upstream = net.connect(target.port, '127.0.0.1');
      this.upstream = upstream;
      upstream.on('error', () => undefined);
      upstream.on('close', () => {
        if (this.awaitingServerReply) sessions.delete(this);
        if (!this.hung && !this.silentlyDropped) client.destroy();
      });
      upstream.on('data', (chunk: Buffer) => this.fromServer(chunk));
      client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    }

    faultAt(stage: SmtpStage): SmtpFault | null {
      return state.fault?.at === stage ? state.fault : null;
    }

    strike(fault: SmtpFault): void {
      struck.push(`${fault.at}:${fault.action}`);
      if (fault.action === 'drop') {
        this.client.destroy();
        this.upstream?.destroy();
      } else {
        this.hung = true;
        // Stop reading too, so that a client still writing fills the buffers and stalls.
        this.client.pause();
      }
    }

    fromClient(chunk: Buffer): void {
      if (this.hung) return;
      if (this.silentlyDropped) {
        struck.push('idle:reset');
        this.client.resetAndDestroy();
        return;
      }
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length > 0 && !this.hung && !this.client.destroyed) {
        if (this.phase === 'content') {
          if (!this.fromClientContent()) return;
          continue;
        }
        const end = this.pending.indexOf('\n');
        if (end === -1) return;
        const line = this.pending.subarray(0, end + 1);
        this.pending = this.pending.subarray(end + 1);
        const text = line.toString('latin1').trim();
        const matched = COMMAND_STAGES.find(([pattern]) => pattern.test(text));
        // Lines of an AUTH exchange that are not commands (credentials) stay in the `auth` stage.
        const stage = matched ? matched[1] : this.phase === 'auth' ? 'auth' : null;
        const fault = stage ? this.faultAt(stage) : null;
        if (fault) {
          this.strike(fault);
          return;
        }
        if (stage) this.phase = stage;
        this.upstream?.write(line);
      }
    }

    /** Passes content on up to and including the final dot; false while more bytes are needed. */
    fromClientContent(): boolean {
      const fault = state.fault;
      if (fault?.at === 'content') {
        this.strike(fault);
        return false;
      }
      const seen = Buffer.concat([this.contentTail, this.pending]);
      const dot = seen.indexOf(CRLF_DOT_CRLF);
      if (dot === -1) {
        this.upstream?.write(this.pending);
        this.contentTail = seen.subarray(Math.max(0, seen.length - (CRLF_DOT_CRLF.length - 1)));
        this.pending = Buffer.alloc(0);
        return false;
      }
      const through = dot + CRLF_DOT_CRLF.length - this.contentTail.length;
      this.upstream?.write(this.pending.subarray(0, through));
      this.pending = this.pending.subarray(through);
      this.phase = 'final-dot';
      const atFinalDot = this.faultAt('final-dot');
      if (atFinalDot) {
        struck.push(`final-dot:${atFinalDot.action}`);
        this.hung = true;
        this.awaitingServerReply = true;
        // The server still gets to answer (and accept) the message; only the client never hears.
        const upstream = this.upstream;
        upstream?.once('data', () => upstream.end());
        if (atFinalDot.action === 'drop') this.client.destroy();
      }
      return true;
    }

    fromServer(chunk: Buffer): void {
      if (this.hung) return;
      this.client.write(chunk);
      this.replies += chunk.toString('latin1');
      let end: number;
      while ((end = this.replies.indexOf('\n')) !== -1) {
        const line = this.replies.slice(0, end).trimEnd();
        this.replies = this.replies.slice(end + 1);
        const last = /^\d{3}( |$)/.test(line);
        if (this.phase === 'data' && line.startsWith('354')) {
          this.phase = 'content';
          this.contentTail = Buffer.from('\r\n');
        } else if (this.phase === 'final-dot' && last) this.phase = 'idle';
      }
    }
  }

  const server = net.createServer((client) => new Session(client));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const idle = () => [...sessions].filter((s) => s.phase === 'idle' && !s.hung && !s.silentlyDropped);

  return {
    port,
    url: (credentials) => `smtp://${credentials ? `${credentials.user}:${credentials.pass}@` : ''}127.0.0.1:${port}`,
    get fault() {
      return state.fault;
    },
    set fault(fault: SmtpFault | null) {
      state.fault = fault;
    },
    struck,
    async closeIdle() {
      await Promise.all(
        idle().map(
          (s) =>
            new Promise<void>((resolve) => {
              struck.push('idle:421');
              s.hung = true;
              s.upstream?.end();
              s.client.once('close', () => resolve());
              s.client.end('421 4.4.2 Idle too long, closing connection\r\n');
            }),
        ),
      );
    },
    dropIdleSilently() {
      for (const s of idle()) {
        s.silentlyDropped = true;
        s.upstream?.destroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) {
          s.client.destroy();
          s.upstream?.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
