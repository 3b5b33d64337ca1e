import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { AppError, ErrorCodes, problemOf } from '@order-mail/shared/contract';
import { sendProblem } from '@order-mail/shared/http';
import type { Logger } from '@order-mail/shared/logger';
import { findApiKey, keyIdOf, keyDigest, type ApiKey } from '../../domain/api-keys';
import { NO_KEY_ID } from '../../adapters/metrics/order-api-metrics';

declare module 'express-serve-static-core' {
  interface Request {
    /** The id of the key the request was authenticated with (`ApiKey.id`), `none` with authentication off. */
    apiKeyId: string;
  }
}

/** The realm named in `WWW-Authenticate` (RFC 6750 §3). */
const BEARER_REALM = 'order-api';

/** The rate limit's window: limits are per minute. */
const RATE_LIMIT_WINDOW_MS = 60_000;

/** Why a request was refused, as logged (`reason`). */
type Refusal = 'missing' | 'wrong_scheme' | 'unknown_key';

/**
 * Requires `Authorization: Bearer <key>` with one of `keys` (RFC 6750 §2.1), compared in constant
 * time (`findApiKey`). On success sets `req.apiKeyId`. Otherwise passes an `ERR_UNAUTHORIZED`
 * AppError on (the error handler answers a `401` problem, `unauthorized`) with the
 * challenge RFC 6750 §3 asks for: `WWW-Authenticate: Bearer realm="order-api"`, plus
 * `error="invalid_token"` when a Bearer token was sent but is no key (§3.1: no error code when
 * the request carried no Bearer credentials). The auth scheme is case-insensitive (RFC 9110 §11.1).
 *
 * Runs before anything reads the body, so an unauthenticated client cannot make the API parse
 * anything; its answer, sent before the body was read, closes the connection (`listenHttp`).
 * Refusals are logged at info with the reason and, for a wrong key, the presented token's key id
 * (so a client still sending a retired key can be found); never the token.
 */
export function requireApiKey(options: { keys: readonly ApiKey[]; logger: Logger }): RequestHandler {
  const { keys, logger } = options;
  const challenge = `Bearer realm="${BEARER_REALM}"`;
  return (req, res, next) => {
    const refuse = (reason: Refusal, message: string, extra: Record<string, string> = {}) => {
      res.set(
        'WWW-Authenticate',
        reason === 'unknown_key'
          ? `${challenge}, error="invalid_token", error_description="The key is not valid"`
          : challenge,
      );
      logger.info({ reason, correlationId: req.requestId, ...extra }, 'order refused: no valid key');
      next(new AppError(ErrorCodes.UNAUTHORIZED, message));
    };
    const header = req.get('authorization')?.trim() ?? '';
    const [, scheme = '', token = ''] = /^(\S*)\s*(.*)$/.exec(header) ?? [];
    if (header === '') {
      refuse('missing', 'POST /orders requires an "Authorization: Bearer <key>" header with a key of ORDER_API_KEYS');
      return;
    }
    if (scheme.toLowerCase() !== 'bearer') {
      refuse('wrong_scheme', 'Authorization must use the Bearer scheme: "Authorization: Bearer <key>"');
      return;
    }
    if (token === '') {
      refuse('missing', 'The Authorization header holds no key: "Authorization: Bearer <key>"');
      return;
    }
    const key = findApiKey(keys, token);
    if (!key) {
      refuse('unknown_key', 'The key is not valid', { presentedKeyId: keyIdOf(keyDigest(token)) });
      return;
    }
    req.apiKeyId = key.id;
    next();
  };
}

/** With authentication off (ORDER_API_AUTH=off) every request counts as key id `none`. */
export const withoutApiKey: RequestHandler = (req, _res, next) => {
  req.apiKeyId = NO_KEY_ID;
  next();
};

/**
 * At most `perMinute` requests per key id (`req.apiKeyId`, so after authentication) in each
 * fixed window of one minute, counted in this process's memory (express-rate-limit's
 * MemoryStore): with N order API processes a key gets up to N times the limit.
 *
 * Every answer carries the IETF RateLimit headers of draft-ietf-httpapi-ratelimit-headers-08
 * (`RateLimit-Policy: "600-in-1min"; q=600; w=60; pk=…`, `RateLimit: "600-in-1min"; r=599; t=42`).
 * Over the limit: a `429` problem, `rate_limited` (RFC 6585 §4), with `Retry-After` (the seconds
 * until the window ends), before the body is read, logged at info with the key id.
 */
export function limitPerKey(options: { perMinute: number; logger: Logger }): RequestHandler {
  const { perMinute, logger } = options;
  return rateLimit({
    windowMs: RATE_LIMIT_WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => req.apiKeyId,
    handler: (req, res) => {
      const retryAfter = String(res.getHeader('Retry-After') ?? '');
      logger.info({ keyId: req.apiKeyId, correlationId: req.requestId, retryAfter }, 'order refused: rate limit');
      sendProblem(
        res,
        problemOf(
          ErrorCodes.RATE_LIMITED,
          `More than ${perMinute} requests per minute with key ${req.apiKeyId} (counted by each order API process); ` +
            `retry after ${retryAfter} s`,
        ),
      );
    },
    // The library's own warnings (misconfigurations it detects) go to our log, not the console.
    logger: {
      warn: (err, message) => logger.warn({ err }, message ?? 'express-rate-limit warning'),
      error: (err, message) => logger.error({ err }, message ?? 'express-rate-limit error'),
    },
  });
}
