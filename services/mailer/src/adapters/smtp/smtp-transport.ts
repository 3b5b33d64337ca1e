import { PassThrough, pipeline, Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { MailMessageData, SendMailOptions } from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { isPermanentResponseCode, type NodemailerError } from 'nodemailer/lib/errors';
import { classifyFailure, type SendErrorFacts, type SendStage } from '../../domain/classify-failure';
import {
  SendFailureError,
  type MailTransport,
  type OutgoingMail,
  type SendFailure,
  type SendReceipt,
} from '../../domain/ports';

/** Timeouts are in milliseconds. */
export interface SmtpTransportOptions {
  /** `smtp://` or `smtps://`, with credentials if the server wants them (nodemailer's URL form). */
  url: string;
  maxConnections: number;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  /** Deadline of one whole send, queueing in the pool included; the send is aborted then. */
  sendTimeoutMs: number;
}

/** `ready`; `unreachable` (connection-level failure); `auth_failed` (credentials refused). */
export type SmtpState = 'ready' | 'unreachable' | 'auth_failed';

export interface SmtpTransport extends MailTransport {
  state(): SmtpState;
  /** Checks the server (connect, greet, authenticate); updates the state either way. */
  verify(): Promise<void>;
  close(): void;
}

/**
 * Facts about a nodemailer error, using nodemailer's own view of which replies are permanent.
 * `stage` is how far the message got (see {@link SendStage}); `before-data` for a check that
 * sends no message.
 */
function toSendFailure(err: NodemailerError, stage: SendStage): SendFailure {
  const facts: SendErrorFacts = {
    code: err.code,
    responseCode: err.responseCode,
    response: err.response,
    permanentReply:
      err.permanent === true || (typeof err.responseCode === 'number' && isPermanentResponseCode(err.responseCode)),
    stage,
  };
  return { message: err.message, responseCode: err.responseCode, response: err.response, command: err.command, facts };
}

/** What a failure says about the server as a whole; null when it was about this one message. */
function stateAfter(failure: SendFailure): SmtpState | null {
  if (classifyFailure(failure.facts) === 'auth') return 'auth_failed';
  if (failure.responseCode === undefined) return 'unreachable';
  return null;
}

/** How far one send's message got; only moves forward. One per send. */
interface Transmission {
  stage: SendStage;
}

/** The `mail.data` key that carries a send's {@link Transmission} to the stream plugin. */
const TRANSMISSION_KEY = 'orderMailTransmission';
type TrackedMailData = MailMessageData & { [TRANSMISSION_KEY]?: Transmission };

/**
 * The stream nodemailer sends a message from, made the outermost stage of the message's stream
 * with `processFunc` (nodemailer's documented hook for post-processing a message, the one its
 * DKIM signing uses), so that what nodemailer does with it tells how far the message got.
 *
 * Why not simply watch the message's own `end`: nodemailer reads the raw message into its
 * buffers long before the connection is even open, so `end` says nothing about the server.
 * What this relies on, checked against nodemailer 10.6 (`smtp-connection/index.js`, `send`,
 * `_createSendStream`, `close`), and caught by `test/component/smtp-stages.test.ts` if it changes:
 * 1. The stream is not read until the server has answered DATA with 354: only then does
 *    nodemailer `pipe` it into its DataStream (the pool's own "nothing was sent, requeue" check
 *    relies on this too, through `readableDidRead`).
 * 2. The DataStream dot-stuffs the content (RFC 5321 §4.5.2), appends the final `<CRLF>.<CRLF>`
 *    and is piped into the socket, so its `end` comes after the final dot went to `socket.write`.
 *    From then on nothing takes it back: a send that fails or is aborted closes the connection
 *    with `socket.end()`, which still flushes what was written. Before its `end`, the close
 *    unpipes it from the socket, so a final dot not yet written never will be.
 * If the stream is consumed any other way (no readable destination seen), its own `end` counts
 * as the final dot: a lost connection is then judged an unknown outcome, a wait, never a
 * duplicate.
 */
class WatchedMessageStream extends PassThrough {
  private destinationSeen = false;

  constructor(private readonly transmission: Transmission) {
    super();
    this.once('end', () => {
      if (!this.destinationSeen) this.advance('after-final-dot');
    });
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    this.advance('content');
    if (destination instanceof Readable) {
      this.destinationSeen = true;
      destination.once('end', () => this.advance('after-final-dot'));
    }
    return super.pipe(destination, options);
  }

  private advance(stage: SendStage): void {
    if (stage === 'after-final-dot' || this.transmission.stage === 'before-data') this.transmission.stage = stage;
  }
}

/**
 * The pool, with every send's message stream watched (see {@link WatchedMessageStream}).
 * `maxRequeues: 0` because nodemailer's own silent requeue would hide failures from the broker and
 * the ledger, which own retries.
 */
function createPool(options: SmtpTransportOptions): Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options> {
  const pool = nodemailer.createTransport({
    url: options.url,
    pool: true,
    maxConnections: options.maxConnections,
    maxRequeues: 0,
    connectionTimeout: options.connectionTimeoutMs,
    greetingTimeout: options.greetingTimeoutMs,
    socketTimeout: options.socketTimeoutMs,
  });
  pool.use('stream', (mail, done) => {
    const transmission = (mail.data as TrackedMailData)[TRANSMISSION_KEY];
    if (transmission) {
      mail.message.processFunc((input) => {
        const watched = new WatchedMessageStream(transmission);
        // Carries the input's errors to the stream nodemailer reads, and a teardown back.
        pipeline(input, watched, () => undefined);
        return watched;
      });
    }
    done();
  });
  return pool;
}

/** The whole message, headers and both parts, as it goes over the wire. */
function compose(mail: OutgoingMail): Promise<Buffer> {
  return new MailComposer({
    from: mail.from,
    to: mail.to,
    replyTo: mail.replyTo,
    subject: mail.subject,
    messageId: mail.messageId,
    html: mail.html,
    text: mail.text,
    headers: mail.headers,
  })
    .compile()
    .build();
}

/** The pool's options for one send of `raw`, aborted after `timeoutMs`, recording its progress in `transmission`. */
function sendOptions(
  mail: OutgoingMail,
  raw: Buffer,
  timeoutMs: number,
  transmission: Transmission,
): SendMailOptions & { [TRANSMISSION_KEY]: Transmission } {
  return {
    envelope: { from: mail.from, to: [mail.to.address] },
    raw,
    signal: AbortSignal.timeout(timeoutMs),
    [TRANSMISSION_KEY]: transmission,
  };
}

/**
 * A pooled nodemailer transport to `options.url`. Each send records how far its message got
 * (see {@link WatchedMessageStream}), which is the difference between "retry" and "outcome
 * unknown" when a connection fails. `send` rejects with a SendFailureError; `verify` rejects with
 * nodemailer's error. Nothing connects until the first send or verify; the state starts as
 * `unreachable` until one succeeds.
 */
export function createSmtpTransport(options: SmtpTransportOptions): SmtpTransport {
  const pool = createPool(options);
  let state: SmtpState = 'unreachable';

  return {
    state: () => state,
    async verify() {
      try {
        await pool.verify();
        state = 'ready';
      } catch (err) {
        state = stateAfter(toSendFailure(err as NodemailerError, 'before-data')) ?? 'unreachable';
        throw err;
      }
    },
    async send(mail: OutgoingMail): Promise<SendReceipt> {
      const raw = await compose(mail);
      const transmission: Transmission = { stage: 'before-data' };
      try {
        const info = await pool.sendMail(sendOptions(mail, raw, options.sendTimeoutMs, transmission));
        state = 'ready';
        return { response: info.response, responseCode: Number.parseInt(info.response, 10) || undefined };
      } catch (err) {
        const failure = toSendFailure(err as NodemailerError, transmission.stage);
        state = stateAfter(failure) ?? state;
        throw new SendFailureError(failure);
      }
    },
    close() {
      pool.close();
    },
  };
}
