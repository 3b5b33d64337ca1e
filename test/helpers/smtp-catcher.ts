import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpBehaviour {
  /** Answer DATA with this SMTP error instead of accepting (e.g. 451 or 550). */
  rejectWith?: { code: number; message: string };
  /** With `rejectWith`: reject only this many messages, then accept again. */
  rejectCount?: number;
  /** Hold each message this long before answering, to keep sends in flight. */
  delayMs?: number;
  /** Take the whole message, then drop the connection without answering (outcome unknown to the client). */
  dropAfterData?: boolean;
  /**
   * Answer `RCPT TO` for these addresses (exactly as the client sends them) with this SMTP error,
   * e.g. `{ 'gone@example.com': { code: 550, message: '5.1.1 No such user' } }`; others are accepted.
   * With `count`, only that many times per address, then the address is accepted.
   */
  rejectRecipients?: Record<string, { code: number; message: string; count?: number }>;
}

/** A message or recipient the catcher refused (`rejectWith`, `rejectRecipients`), and when. */
export interface SmtpRefusal {
  /** `Date.now()` when the refusal was answered. */
  at: number;
  code: number;
  /** The refused `RCPT TO` address; undefined for a refused message (DATA). */
  recipient?: string;
}

export interface SmtpCatcher {
  port: number;
  /** Changed by tests at any time; applies to the next message. */
  behaviour: SmtpBehaviour;
  /** Messages refused because of `rejectWith`. */
  rejected: number;
  /** Messages whose DATA has started arriving (accepted or not). */
  receiving: number;
  /** Every `RCPT TO` address the server was given, accepted or refused, in order. */
  recipients: string[];
  /** Messages received in full whose connection was then dropped (`dropAfterData`). */
  dropped: ParsedMail[];
  url: string;
  mails: ParsedMail[];
  /** When each of `mails` was accepted (`Date.now()` as the 250 was answered), in the same order. */
  acceptedAt: number[];
  /** Every refusal of `rejectWith` and `rejectRecipients`, in order. */
  refusals: SmtpRefusal[];
  /** Resolves once `count` mails have arrived; rejects after `timeoutMs` with how many did. */
  waitForMails(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

/** Options of a catcher; by default no STARTTLS, and no login needed. */
export interface SmtpCatcherOptions {
  port?: number;
  /** Offer AUTH (PLAIN, LOGIN) over plain text, accepting only these credentials. */
  auth?: { user: string; pass: string };
  /** Offer STARTTLS (with smtp-server's built-in test certificate). */
  starttls?: boolean;
}

/** A real SMTP server in-process that parses every message it accepts. */
export async function startSmtpCatcher(options: SmtpCatcherOptions = {}): Promise<SmtpCatcher> {
  const mails: ParsedMail[] = [];
  const acceptedAt: number[] = [];
  const refusals: SmtpRefusal[] = [];
  /** Refusals of `rejectRecipients` with a `count`, per address. */
  const recipientRefusals = new Map<string, number>();
  const waiters: (() => void)[] = [];
  const catcher = {
    behaviour: {} as SmtpBehaviour,
    rejected: 0,
    receiving: 0,
    dropped: [] as ParsedMail[],
    recipients: [] as string[],
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.starttls ? [] : ['STARTTLS'],
    allowInsecureAuth: options.auth !== undefined,
    onAuth(auth, _session, callback) {
      const { user, pass } = options.auth ?? {};
      if (user !== undefined && auth.username === user && auth.password === pass) callback(null, { user });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    logger: false,
    onRcptTo(address, _session, callback) {
      catcher.recipients.push(address.address);
      const rule = catcher.behaviour.rejectRecipients?.[address.address];
      const before = recipientRefusals.get(address.address) ?? 0;
      const refusal = rule && (rule.count === undefined || before < rule.count) ? rule : undefined;
      if (refusal) recipientRefusals.set(address.address, before + 1);
      // Answered on the next turn, as smtp-server's own handler does: a connection a test cut
      // meanwhile is then seen as closed instead of written to.
      setImmediate(() => {
        if (!refusal) return callback();
        refusals.push({ at: Date.now(), code: refusal.code, recipient: address.address });
        callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      });
    },
    onData(stream, session, callback) {
      const { rejectWith, delayMs = 0, dropAfterData } = catcher.behaviour;
      catcher.receiving += 1;
      simpleParser(stream)
        .then(async (mail) => {
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          if (dropAfterData) {
            catcher.dropped.push(mail);
            // smtp-server keeps each connection's socket on the session's connection object.
            const connections = (
              server as unknown as { connections: Set<{ id: string; _socket: { destroy(): void } }> }
            ).connections;
            for (const c of connections) if (c.id === session.id) c._socket.destroy();
            return;
          }
          if (rejectWith && (catcher.behaviour.rejectCount === undefined || catcher.behaviour.rejectCount > 0)) {
            if (catcher.behaviour.rejectCount !== undefined) catcher.behaviour.rejectCount -= 1;
            catcher.rejected += 1;
            refusals.push({ at: Date.now(), code: rejectWith.code });
            callback(Object.assign(new Error(rejectWith.message), { responseCode: rejectWith.code }));
            return;
          }
          mails.push(mail);
          acceptedAt.push(Date.now());
          waiters.forEach((w) => w());
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    get behaviour() {
      return catcher.behaviour;
    },
    set behaviour(b: SmtpBehaviour) {
      catcher.behaviour = b;
    },
    get rejected() {
      return catcher.rejected;
    },
    get recipients() {
      return catcher.recipients;
    },
    get receiving() {
      return catcher.receiving;
    },
    dropped: catcher.dropped,
    url: `smtp://127.0.0.1:${port}`,
    mails,
    acceptedAt,
    refusals,
    waitForMails(count, timeoutMs = 20000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (mails.length >= count) {
            clearTimeout(timer);
            resolve(mails);
            return true;
          }
          return false;
        };
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} mails within ${timeoutMs} ms, got ${mails.length}`)),
          timeoutMs,
        );
        if (!check()) waiters.push(check);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
