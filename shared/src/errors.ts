/**
 * The one error type of the project. Every error we raise on purpose carries a stable code,
 * so entry points can map it to an HTTP status or a queue decision in one place.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  VALIDATION_FAILED: 'ERR_VALIDATION_FAILED',
  UNSUPPORTED_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'ERR_NOT_FOUND',
  BROKER_UNAVAILABLE: 'ERR_BROKER_UNAVAILABLE',
  DATABASE_UNAVAILABLE: 'ERR_DATABASE_UNAVAILABLE',
  PUBLISH_TIMEOUT: 'ERR_PUBLISH_TIMEOUT',
  PUBLISH_NACKED: 'ERR_PUBLISH_NACKED',
  PUBLISH_UNROUTABLE: 'ERR_PUBLISH_UNROUTABLE',
  /** The message went out but its channel closed before the broker's confirm: it may or may not be stored. */
  PUBLISH_UNCONFIRMED: 'ERR_PUBLISH_UNCONFIRMED',
  /** A request declares a body over the route's limit (RFC 9110 §15.5.14, 413). */
  PAYLOAD_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  INVALID_EVENT: 'ERR_INVALID_EVENT',
  TEMPLATE_NOT_FOUND: 'ERR_TEMPLATE_NOT_FOUND',
  RENDER_FAILED: 'ERR_RENDER_FAILED',
  SHUTTING_DOWN: 'ERR_SHUTTING_DOWN',
  UNAUTHORIZED: 'ERR_UNAUTHORIZED',
  CONFLICT: 'ERR_CONFLICT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface FieldIssue {
  /** Dotted path to the offending field, e.g. `items.0.quantity`; empty for the whole document. */
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: FieldIssue[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: FieldIssue[] } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details ?? [];
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}
