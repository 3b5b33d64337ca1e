import { Webhook } from 'standardwebhooks';
import type { MailEvent } from '@order-mail/shared/contract';
import { parseRetryAfter, webhookPayload, type WebhookAttemptResult } from '../../domain/webhooks';

/** The most of a receiver's answer kept in the delivery log (characters). */
export const RESPONSE_EXCERPT_CHARS = 500;
/** Bytes read of an answer's body at most: enough for the excerpt, never a whole large page. */
const RESPONSE_READ_BYTES = 4 * 1024;

export interface WebhookSenderOptions {
  /** WEBHOOK_URL. */
  url: string;
  /** WEBHOOK_SECRET's secrets (`whsec_…`); each signs every webhook. */
  secrets: readonly string[];
  /** WEBHOOK_TIMEOUT_MS: from sending the request to the end of reading the answer's excerpt. */
  timeoutMs: number;
  /** `User-Agent` of the requests. */
  userAgent: string;
}

/** One POST, as the delivery log keeps it. */
export interface SentWebhook {
  result: WebhookAttemptResult;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseExcerpt: string | null;
}

export interface WebhookSender {
  readonly url: string;
  /** POSTs `event` once; never rejects (a timeout or a network error is a result). */
  send(event: MailEvent): Promise<SentWebhook>;
}

/**
 * POSTs delivery events to one URL as Standard Webhooks 1.0.0: the body is `webhookPayload(event)`
 * (`Content-Type: application/json`), `webhook-id` the event's `eventId` (the same on every
 * attempt, so the receiver deduplicates on it), `webhook-timestamp` this attempt's time in Unix
 * seconds, `webhook-signature` one `v1,<base64 HMAC-SHA256>` per secret, space-separated, as the
 * `standardwebhooks` library signs (`{id}.{timestamp}.{body}`). Redirects are not followed (the
 * specification counts a 3xx as a failure). Throws at construction when a secret does not decode
 * (config validates them first).
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const signers = options.secrets.map((secret) => new Webhook(secret));
  return {
    url: options.url,
    async send(event) {
      const body = webhookPayload(event);
      const at = new Date();
      const signature = signers.map((s) => s.sign(event.eventId, at, body)).join(' ');
      const started = performance.now();
      const elapsed = () => performance.now() - started;
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': options.userAgent,
            'webhook-id': event.eventId,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const excerpt = await readExcerpt(response);
        const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), new Date());
        return {
          result: { kind: 'response', status: response.status, retryAfterSeconds },
          statusCode: response.status,
          error: null,
          durationMs: elapsed(),
          responseExcerpt: excerpt,
        };
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        const message = timedOut ? `timeout after ${options.timeoutMs} ms` : networkErrorText(err);
        return {
          result: timedOut ? { kind: 'timeout' } : { kind: 'network', message },
          statusCode: null,
          error: message,
          durationMs: elapsed(),
          responseExcerpt: null,
        };
      }
    },
  };
}

/**
 * The start of the answer's body (RESPONSE_EXCERPT_CHARS), null when empty; reads at most
 * RESPONSE_READ_BYTES and drops the rest. A body that fails midway keeps what was read.
 */
async function readExcerpt(response: Response): Promise<string | null> {
  const reader = response.body?.getReader();
  if (!reader) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // What arrived is enough for a log.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_EXCERPT_CHARS);
  return text === '' ? null : text;
}

/** `fetch failed` says nothing: undici puts the reason (ECONNREFUSED, ENOTFOUND, a TLS error) in `cause`. */
function networkErrorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  if (cause?.message)
    return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return err.message;
}
