import nodemailer from 'nodemailer';
import { isPermanentResponseCode, isTransientError, type NodemailerError } from 'nodemailer/lib/errors';
import type { Logger } from '@order-mail/shared';
import {
  SendFailureError,
  type MailTransport,
  type SendFailure,
  type OutgoingMail,
  type SendReceipt,
} from '../../domain/ports';

export interface SmtpTransportOptions {
  url: string;
  maxConnections: number;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  logger: Logger;
}

export interface SmtpTransport extends MailTransport {
  /** True once the server has answered a connection check, false after a connection-level failure. */
  isReady(): boolean;
  /** Checks the server until it answers; resolves on the first success. */
  verify(): Promise<void>;
  close(): void;
}

/** Maps a nodemailer error to whether retrying the same message can succeed. */
export function toSendFailure(err: NodemailerError): SendFailure {
  const permanent =
    err.permanent === true || (typeof err.responseCode === 'number' && isPermanentResponseCode(err.responseCode));
  return {
    failureClass: permanent && !isTransientError(err) ? 'permanent' : 'transient',
    message: err.message,
    code: err.code,
    responseCode: err.responseCode,
    response: err.response,
  };
}

/**
 * A pooled nodemailer transport. `maxRequeues: 0` because nodemailer's own silent requeue would
 * hide failures from the broker, which owns retries.
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
  let ready = false;

  return {
    isReady: () => ready,
    async verify() {
      await transport.verify();
      ready = true;
    },
    async send(mail: OutgoingMail): Promise<SendReceipt> {
      try {
        const info = await transport.sendMail({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          messageId: mail.messageId,
          html: mail.html,
          text: mail.text,
          headers: mail.headers,
        });
        ready = true;
        return { messageId: info.messageId, response: info.response };
      } catch (err) {
        const failure = toSendFailure(err as NodemailerError);
        if (failure.responseCode === undefined) ready = false;
        throw new SendFailureError(failure);
      }
    },
    close() {
      transport.close();
    },
  };
}
