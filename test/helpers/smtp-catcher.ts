import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpBehaviour {
  /** Answer DATA with this SMTP error instead of accepting (e.g. 451 or 550). */
  rejectWith?: { code: number; message: string };
  /** Hold each message this long before answering, to keep sends in flight. */
  delayMs?: number;
}

export interface SmtpCatcher {
  port: number;
  /** Changed by tests at any time; applies to the next message. */
  behaviour: SmtpBehaviour;
  /** Messages refused because of `rejectWith`. */
  rejected: number;
  /** Messages whose DATA has started arriving (accepted or not). */
  receiving: number;
  url: string;
  mails: ParsedMail[];
  /** Resolves once `count` mails have arrived; rejects after `timeoutMs` with how many did. */
  waitForMails(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

/** A real SMTP server in-process that parses every message it accepts. */
export async function startSmtpCatcher(): Promise<SmtpCatcher> {
  const mails: ParsedMail[] = [];
  const waiters: (() => void)[] = [];
  const catcher = { behaviour: {} as SmtpBehaviour, rejected: 0, receiving: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const { rejectWith, delayMs = 0 } = catcher.behaviour;
      catcher.receiving += 1;
      simpleParser(stream)
        .then(async (mail) => {
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          if (rejectWith) {
            catcher.rejected += 1;
            callback(Object.assign(new Error(rejectWith.message), { responseCode: rejectWith.code }));
            return;
          }
          mails.push(mail);
          waiters.forEach((w) => w());
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
    get receiving() {
      return catcher.receiving;
    },
    url: `smtp://127.0.0.1:${port}`,
    mails,
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
