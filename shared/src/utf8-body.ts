import type { IncomingMessage, ServerResponse } from 'node:http';
import { isWellFormedUtf8 } from './text-rules';

/**
 * `type` of the error `verifyUtf8JsonBody` raises for a body that is not UTF-8; the HTTP error
 * handler answers it with 400 validation_failed.
 */
export const INVALID_UTF8_BODY_ERROR_TYPE = 'entity.utf8.invalid';

/** Shaped like body-parser's own errors (`status`, `type`), so one handler maps them all. */
class BodyEncodingError extends Error {
  readonly status: number;
  readonly type: string;

  constructor(status: number, type: string, message: string) {
    super(message);
    this.name = 'BodyEncodingError';
    this.status = status;
    this.type = type;
  }
}

/**
 * The `verify` option of `express.json`: lets only UTF-8 JSON through (RFC 8259 §8.1: JSON
 * exchanged between systems "MUST be encoded using UTF-8"). body-parser calls it with the raw
 * bytes before decoding them, which it would otherwise do leniently, turning every invalid sequence
 * (Latin-1 `é` is the lone byte E9) into U+FFFD for good.
 *
 * Throws, and body-parser passes on, an error with
 * - `status` 415, `type` `charset.unsupported` (body-parser's own) if the declared charset is not
 *   UTF-8 (body-parser itself lets any `utf-*` through, UTF-16 included);
 * - `status` 400, `type` INVALID_UTF8_BODY_ERROR_TYPE if the bytes are not well-formed UTF-8
 *   (RFC 3629), whether the charset was declared or left to the default.
 */
export function verifyUtf8JsonBody(_req: IncomingMessage, _res: ServerResponse, body: Buffer, charset: string): void {
  if (charset.toLowerCase() !== 'utf-8') {
    throw new BodyEncodingError(
      415,
      'charset.unsupported',
      `Unsupported charset "${charset.toUpperCase()}": JSON bodies must be UTF-8`,
    );
  }
  if (!isWellFormedUtf8(body)) {
    throw new BodyEncodingError(
      400,
      INVALID_UTF8_BODY_ERROR_TYPE,
      'The body is not valid UTF-8 (RFC 3629); send JSON encoded as UTF-8, e.g. not Latin-1',
    );
  }
}
