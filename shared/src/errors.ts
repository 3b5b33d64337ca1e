/**
 * One entry of the error catalogue, after fastify's `createError(code, message, statusCode)`: what
 * an error code means, and how it is answered over HTTP if it ever is.
 */
export type ErrorDefinition = {
  /** The stable code, `ERR_*`: what `AppError.code`, logs and tests compare. */
  readonly code: string;
  /**
   * One line saying what the error means, the same for every occurrence: an HTTP answer's `title`
   * (RFC 9457 §3.1.3); the occurrence's own message is its `detail`.
   */
  readonly description: string;
} & (
  | {
      /** The HTTP status it is answered with. */
      readonly status: number;
      /** The body's `error` member (`validation_failed`), the name clients have read since the first version. */
      readonly error: string;
    }
  | { readonly status?: undefined; readonly error?: undefined }
);

/**
 * Every error the services raise or answer on purpose, declared once: the HTTP error handler, the
 * early answers of `listenHttp` and README's error table all read it (a test checks README lists
 * every code with its status and wire name). Codes without a `status` never reach a client: they
 * are start-up failures or decisions about queued messages (an HTTP request that meets one is an
 * unexpected error, `500 internal_error`). Several codes share a wire name where clients were
 * always given one (`service_unavailable` for every 503); the problem `type` tells them apart.
 */
export const ERROR_CATALOGUE = {
  CONFIG_INVALID: {
    code: 'ERR_CONFIG_INVALID',
    description: 'A setting is missing or invalid, so the service does not start',
  },
  // RFC 9110 §15.5.1
  VALIDATION_FAILED: {
    code: 'ERR_VALIDATION_FAILED',
    status: 400,
    error: 'validation_failed',
    description:
      'The request breaks a documented rule: bad JSON, bytes that are not UTF-8, or a field, path or query value',
  },
  // RFC 9110 §15.5.1: also the 4xx that Node, express or body-parser raise with a status of their own.
  BAD_REQUEST: {
    code: 'ERR_BAD_REQUEST',
    status: 400,
    error: 'bad_request',
    description: 'The request cannot be read: not HTTP/1.1, or a path that is not valid percent-encoding',
  },
  // RFC 9110 §15.5.2, with the challenge of RFC 6750 §3
  UNAUTHORIZED: {
    code: 'ERR_UNAUTHORIZED',
    status: 401,
    error: 'unauthorized',
    description: 'The request carries no valid "Authorization: Bearer" credentials',
  },
  // RFC 9110 §15.5.4
  ADMIN_API_DISABLED: {
    code: 'ERR_ADMIN_API_DISABLED',
    status: 403,
    error: 'admin_api_disabled',
    description: 'The admin API is off: the mailer has no ADMIN_TOKEN',
  },
  // RFC 9110 §15.5.5
  NOT_FOUND: {
    code: 'ERR_NOT_FOUND',
    status: 404,
    error: 'not_found',
    description: 'No such route, or nothing recorded under that id',
  },
  // RFC 9110 §15.5.9
  REQUEST_TIMEOUT: {
    code: 'ERR_REQUEST_TIMEOUT',
    status: 408,
    error: 'request_timeout',
    description: 'The request headers or body did not arrive in time; the connection is closed',
  },
  // RFC 9110 §15.5.10
  CONFLICT: {
    code: 'ERR_CONFLICT',
    status: 409,
    error: 'conflict',
    description: 'The request conflicts with work in progress (a dead-letter replay already running)',
  },
  // RFC 9110 §15.5.14
  PAYLOAD_TOO_LARGE: {
    code: 'ERR_PAYLOAD_TOO_LARGE',
    status: 413,
    error: 'payload_too_large',
    description: "The body (or a chunk's extensions) is over the route's limit",
  },
  // RFC 9110 §15.5.16
  UNSUPPORTED_MEDIA_TYPE: {
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    error: 'unsupported_media_type',
    description: 'The body is not declared as JSON, or declares a charset other than UTF-8',
  },
  // RFC 6585 §4
  RATE_LIMITED: {
    code: 'ERR_RATE_LIMITED',
    status: 429,
    error: 'rate_limited',
    description: 'The key sent more requests this minute than its limit; Retry-After says when to retry',
  },
  // RFC 6585 §5
  HEADERS_TOO_LARGE: {
    code: 'ERR_HEADERS_TOO_LARGE',
    status: 431,
    error: 'headers_too_large',
    description: 'The request headers are over 16 KiB',
  },
  // RFC 9110 §15.6.1: its message never says more than "Internal server error"; the log has the stack.
  INTERNAL_ERROR: {
    code: 'ERR_INTERNAL_ERROR',
    status: 500,
    error: 'internal_error',
    description: 'An unexpected error (a bug), logged with its stack',
  },
  // RFC 9110 §15.6.4 for all that follow: a dependency is away; Retry-After says when to retry.
  BROKER_UNAVAILABLE: {
    code: 'ERR_BROKER_UNAVAILABLE',
    status: 503,
    error: 'service_unavailable',
    description: 'Not connected to RabbitMQ, or its channel is closed',
  },
  DATABASE_UNAVAILABLE: {
    code: 'ERR_DATABASE_UNAVAILABLE',
    status: 503,
    error: 'service_unavailable',
    description: "The ledger's PostgreSQL cannot be used (unreachable, missing, or refusing the credentials)",
  },
  PUBLISH_TIMEOUT: {
    code: 'ERR_PUBLISH_TIMEOUT',
    status: 503,
    error: 'service_unavailable',
    description: 'RabbitMQ did not confirm the message in time; it may still store it',
  },
  PUBLISH_NACKED: {
    code: 'ERR_PUBLISH_NACKED',
    status: 503,
    error: 'service_unavailable',
    description: 'RabbitMQ refused the message (negative confirm)',
  },
  PUBLISH_UNROUTABLE: {
    code: 'ERR_PUBLISH_UNROUTABLE',
    status: 503,
    error: 'service_unavailable',
    description: 'No queue is bound to take the message, so RabbitMQ returned it',
  },
  PUBLISH_UNCONFIRMED: {
    code: 'ERR_PUBLISH_UNCONFIRMED',
    status: 503,
    error: 'service_unavailable',
    description: "The message went out but its channel closed before the broker's confirm: it may be stored",
  },
  SHUTTING_DOWN: {
    code: 'ERR_SHUTTING_DOWN',
    status: 503,
    error: 'service_unavailable',
    description: 'The service is shutting down and takes no new work',
  },
  INVALID_EVENT: {
    code: 'ERR_INVALID_EVENT',
    description: 'A queued message is not a valid event (not JSON, or breaking the event schema)',
  },
  TEMPLATE_NOT_FOUND: {
    code: 'ERR_TEMPLATE_NOT_FOUND',
    description: 'No email template of the name asked for',
  },
  RENDER_FAILED: {
    code: 'ERR_RENDER_FAILED',
    description: 'An email template failed to render',
  },
} as const satisfies Record<string, ErrorDefinition>;

type Catalogue = typeof ERROR_CATALOGUE;

/** A code of the catalogue, e.g. `ERR_VALIDATION_FAILED`. */
export type ErrorCode = Catalogue[keyof Catalogue]['code'];

/** The catalogue's codes by name (`ErrorCodes.VALIDATION_FAILED === 'ERR_VALIDATION_FAILED'`). */
export const ErrorCodes = Object.fromEntries(
  Object.entries(ERROR_CATALOGUE).map(([name, definition]) => [name, definition.code]),
) as { readonly [Name in keyof Catalogue]: Catalogue[Name]['code'] };

/** A code that has an HTTP answer (a `status` and a wire name). */
export type HttpErrorCode = {
  [Name in keyof Catalogue]: Catalogue[Name] extends { status: number } ? Catalogue[Name]['code'] : never;
}[keyof Catalogue];

/** Every entry of the catalogue, in its order (the order of README's table). */
export const ERROR_DEFINITIONS: readonly ErrorDefinition[] = Object.values(ERROR_CATALOGUE);

const DEFINITIONS = new Map<string, ErrorDefinition>(ERROR_DEFINITIONS.map((d) => [d.code, d]));

/** The catalogue's entry for `code`. */
export function errorDefinitionOf(code: HttpErrorCode): ErrorDefinition & { status: number; error: string };
export function errorDefinitionOf(code: ErrorCode): ErrorDefinition;
export function errorDefinitionOf(code: ErrorCode): ErrorDefinition {
  return DEFINITIONS.get(code) as ErrorDefinition;
}

/** Whether `code` has an HTTP answer (a `status` and a wire name in the catalogue). */
export function isHttpErrorCode(code: ErrorCode): code is HttpErrorCode {
  return errorDefinitionOf(code).status !== undefined;
}

export interface FieldIssue {
  /** Dotted path to the offending field, e.g. `items.0.quantity`; empty for the whole document. */
  path: string;
  message: string;
}

/**
 * The one error type of the project: every error raised on purpose carries a catalogue code, so
 * entry points map it to an HTTP answer or a queue decision in one place.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: FieldIssue[];
  /**
   * Members the HTTP answer carries besides the standard ones (RFC 9457 §3.2), for a client to act
   * on without parsing the message, e.g. `{ jobId }` on the 409 of a replay already running. A
   * name of a standard member (`type`, `status`, `error`, …) is ignored; empty for most errors.
   */
  readonly extensions: Readonly<Record<string, string | number | boolean>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      cause?: unknown;
      details?: FieldIssue[];
      extensions?: Readonly<Record<string, string | number | boolean>>;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details ?? [];
    this.extensions = options.extensions ?? {};
  }
}

/** Whether `err` is an AppError (with `code`, if given). */
export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/**
 * What every problem `type` starts with: a tag URI (RFC 4151) followed by the code, e.g.
 * `tag:order-mail,2026:error:ERR_VALIDATION_FAILED`. RFC 9457 §3.1.1 lets a type URI be one that
 * does not resolve; a tag names the code for good without promising a page that could move or
 * vanish (README's error table documents each). `order-mail` is the project's name, not a
 * registered domain, which no one else can mint under; 2026 is the year the catalogue appeared.
 */
export const PROBLEM_TYPE_PREFIX = 'tag:order-mail,2026:error:';

/** The media type of every error answer (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The problem `type` URI of a code. */
function problemTypeOf(code: ErrorCode): string {
  return `${PROBLEM_TYPE_PREFIX}${code}`;
}

/**
 * An error answer's body: RFC 9457 problem details (`type`, `title`, `status`, `detail`) plus, as
 * extension members (§3.2), the `error`, `message` and `details` that clients have read since
 * before the answers were problem details; `message` always equals `detail`.
 */
export interface ProblemDetails {
  /** `problemTypeOf(code)`, one per catalogue code. */
  type: string;
  /** The code's catalogue description, the same for every occurrence. */
  title: string;
  /** The HTTP status of the answer (a 4xx or 5xx). */
  status: number;
  /** What went wrong this time, for a person: the error's message. */
  detail: string;
  /** The code's wire name, e.g. `validation_failed`. */
  error: string;
  /** Same as `detail`. */
  message: string;
  /** One entry per broken rule, for `validation_failed`; absent when there are none. */
  details?: FieldIssue[];
  /** Extension members of the occurrence (`AppError.extensions`), e.g. the `jobId` of a `conflict`. */
  [extension: string]: unknown;
}

/** The members `problemOf` sets itself, which an extension may not replace. */
const STANDARD_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance', 'error', 'message', 'details']);

/**
 * The problem details of one occurrence of `code`: `detail` is what it says this time, `status`
 * overrides the catalogue's (for the 4xx that libraries raise with a status of their own, answered
 * as `bad_request`), `details` are kept only if there are any, `extensions` follow the standard
 * members (one named like a standard member is dropped: it could not change what they say).
 */
export function problemOf(
  code: HttpErrorCode,
  detail: string,
  options: {
    status?: number;
    details?: FieldIssue[];
    extensions?: Readonly<Record<string, string | number | boolean>>;
  } = {},
): ProblemDetails {
  const definition = errorDefinitionOf(code);
  const problem: ProblemDetails = {
    type: problemTypeOf(code),
    title: definition.description,
    status: options.status ?? definition.status,
    detail,
    error: definition.error,
    message: detail,
    ...(options.details !== undefined && options.details.length > 0 && { details: options.details }),
  };
  for (const [name, value] of Object.entries(options.extensions ?? {})) {
    if (!STANDARD_MEMBERS.has(name)) problem[name] = value;
  }
  return problem;
}
