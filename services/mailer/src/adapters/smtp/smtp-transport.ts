import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { isPermanentResponseCode, isTransientError, type NodemailerError } from 'nodemailer/lib/errors';
import type { Logger } from '@order-mail/shared';
import { classifyFailure, type SendErrorFacts } from '../../domain/classify-failure';
import {
  SendFailureError,
  type MailTransport,
  type OutgoingMail,
  type SendFailure,
  type SendReceipt,
} from '../../domain/ports';

export interface SmtpTransportOptions {
  url: string;
  maxConnections: number;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  /** Deadline of one whole send, queueing in the pool included; the send is aborted then. */
  sendTimeoutMs: number;
  logger: Logger;
}

/** `ready`; `unreachable` (connection-level failure); `auth_failed` (credentials refused). */
export type SmtpState = 'ready' | 'unreachable' | 'auth_failed';

export interface SmtpTransport extends MailTransport {
  state(): SmtpState;
  /** Checks the server (connect, greet, authenticate); updates the state either way. */
  verify(): Promise<void>;
  close(): void;
}

/** Facts about a nodemailer error, using nodemailer's own view of which replies are permanent. */
export function toSendFailure(err: NodemailerError, messageTransmitted: boolean): SendFailure {
  const facts: SendErrorFacts = {
    code: err.code,
    responseCode: err.responseCode,
    permanentReply:
      err.permanent === true || (typeof err.responseCode === 'number' && isPermanentResponseCode(err.responseCode)),
    connectionLost: isTransientError(err),
    messageTransmitted,
  };
  return { message: err.message, responseCode: err.responseCode, response: err.response, facts };
}

/** What a failure says about the server as a whole; null when it was about this one message. */
function stateAfter(failure: SendFailure): SmtpState | null {
  if (classifyFailure(failure.facts) === 'auth') return 'auth_failed';
  if (failure.responseCode === undefined) return 'unreachable';
  return null;
}

/**
 * A pooled nodemailer transport. `maxRequeues: 0` because nodemailer's own silent requeue would
 * hide failures from the broker and the ledger, which own retries. Each message is composed here
 * and handed over as a raw stream, so we know whether all of it (and the final dot) went out when
 * a connection fails: that is the difference between "retry" and "outcome unknown".
 */
export function createSmtpTransport(options: SmtpTransportOptions): SmtpTransport {
  const transport = nodemailer.createTransport({
    url: options.url,
    pool: true,
    maxConnections: options.maxConnections,
    maxRequeues: 0,
    connectionTimeout: options.connectionTimeoutMs,
    greetingTimeout: options.greetingTimeoutMs,
    socketTimeout: options.socketTimeoutMs,
  });
  let state: SmtpState = 'unreachable';

  return {
    state: () => state,
    async verify() {
      try {
        await transport.verify();
        state = 'ready';
      } catch (err) {
        state = stateAfter(toSendFailure(err as NodemailerError, false)) ?? 'unreachable';
        throw err;
      }
    },
    async send(mail: OutgoingMail): Promise<SendReceipt> {
      const composed = await new MailComposer({
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        messageId: mail.messageId,
        html: mail.html,
        text: mail.text,
        headers: mail.headers,
      })
        .compile()
        .build();
      let transmitted = false;
      const raw = Readable.from([composed]);
      raw.once('end', () => {
        transmitted = true;
      });
      try {
        const info = await transport.sendMail({
          envelope: { from: mail.from, to: [mail.to] },
          raw,
          signal: AbortSignal.timeout(options.sendTimeoutMs),
        });
        state = 'ready';
        return {
          messageId: mail.messageId,
          response: info.response,
          responseCode: Number.parseInt(info.response, 10) || undefined,
        };
      } catch (err) {
        const failure = toSendFailure(err as NodemailerError, transmitted);
        state = stateAfter(failure) ?? state;
        throw new SendFailureError(failure);
      }
    },
    close() {
      transport.close();
    },
  };
}
