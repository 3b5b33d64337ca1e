import express from 'express';
import {
  AppError,
  ERROR_CATALOGUE,
  ERROR_DEFINITIONS,
  ErrorCodes,
  PROBLEM_TYPE_PREFIX,
  problemOf,
  type ErrorCode,
} from '@order-mail/shared/contract';
import {
  assignRequestId,
  createHttpErrorHandler,
  listenHttp,
  notFoundHandler,
  requireJson,
  verifyUtf8JsonBody,
  type HttpServerHandle,
} from '@order-mail/shared/http';
import { jsonOf } from '@test/helpers/http';
import { capturingLogger, type LogLine } from '@test/helpers/logs';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/** The problem members every error answer has, for `code`, around the legacy `error`/`message`. */
const problem = (code: ErrorCode, status: number, error: string, message: string | ReturnType<typeof expect.any>) => ({
  type: `${PROBLEM_TYPE_PREFIX}${code}`,
  title: ERROR_DEFINITIONS.find((d) => d.code === code)?.description,
  status,
  detail: message,
  error,
  message,
});

describe('problem+json error answers (RFC 9457)', () => {
  const logs: LogLine[] = [];
  let http: HttpServerHandle;
  let fail: unknown;
  const url = (path: string) => `${http.url}${path}`;

  beforeAll(async () => {
    const app = express();
    app.use(assignRequestId);
    app.get('/fail', () => {
      throw fail;
    });
    app.get('/items/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    app.post('/json', requireJson, express.json({ verify: verifyUtf8JsonBody }), (req, res) => {
      res.json(req.body);
    });
    app.use(notFoundHandler);
    app.use(createHttpErrorHandler({ logger: capturingLogger(logs), retryAfterSeconds: 7 }));
    http = await listenHttp(app, 0, { host: '127.0.0.1' });
  });

  afterAll(async () => {
    await http.close(1000);
  });

  beforeEach(() => {
    logs.length = 0;
  });

  it('when a route raises VALIDATION_FAILED with details, then the answer is a 400 problem keeping error, message and details', async () => {
    const details = [{ path: 'items.0.quantity', message: 'Too small' }];
    fail = new AppError(ErrorCodes.VALIDATION_FAILED, 'The order is not valid', { details });

    const res = await fetch(url('/fail'));

    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
    expect(await jsonOf(res)).toEqual({
      ...problem(ErrorCodes.VALIDATION_FAILED, 400, 'validation_failed', 'The order is not valid'),
      details,
    });
  });

  it('when a route raises CONFLICT with extensions, then the answer carries them after the standard members, which they cannot replace', async () => {
    const jobId = '5b0c3e1e-8f2a-4d1b-9a57-0c6f2b1d9e44';
    fail = new AppError(ErrorCodes.CONFLICT, `Replay job ${jobId} is running`, {
      extensions: { jobId, status: 200, error: 'ok' },
    });

    const res = await fetch(url('/fail'));

    expect(res.status).toBe(409);
    expect(await jsonOf(res)).toEqual({
      ...problem(ErrorCodes.CONFLICT, 409, 'conflict', `Replay job ${jobId} is running`),
      jobId,
    });
  });

  it('when a route raises a 503 code, then the answer is a 503 problem with Retry-After, logged at warn with the request id', async () => {
    fail = new AppError(ErrorCodes.PUBLISH_NACKED, 'RabbitMQ refused it');

    const res = await fetch(url('/fail'), { headers: { 'X-Request-Id': 'req-503' } });

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
    expect(await jsonOf(res)).toEqual(
      problem(ErrorCodes.PUBLISH_NACKED, 503, 'service_unavailable', 'RabbitMQ refused it'),
    );
    expect(logs).toEqual([
      expect.objectContaining({ level: 40, code: ErrorCodes.PUBLISH_NACKED, correlationId: 'req-503' }),
    ]);
  });

  it.each([
    ['an Error', new Error('bug')],
    ['an AppError without an HTTP status', new AppError(ErrorCodes.RENDER_FAILED, 'template broke')],
  ])(
    'when a route throws %s, then the answer is a 500 problem that says nothing more, logged at error',
    async (_what, err) => {
      fail = err;

      const res = await fetch(url('/fail'), { headers: { 'X-Request-Id': 'req-500' } });

      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
      expect(await jsonOf(res)).toEqual(
        problem(ErrorCodes.INTERNAL_ERROR, 500, 'internal_error', 'Internal server error'),
      );
      expect(logs).toEqual([expect.objectContaining({ level: 50, correlationId: 'req-500' })]);
    },
  );

  it.each([
    [
      'bad JSON',
      'application/json',
      Buffer.from('{'),
      problem(ErrorCodes.VALIDATION_FAILED, 400, 'validation_failed', 'The body is not valid JSON'),
    ],
    [
      'bytes that are not UTF-8',
      'application/json',
      Buffer.from([0x22, 0xe9, 0x22]),
      problem(ErrorCodes.VALIDATION_FAILED, 400, 'validation_failed', 'The body is not valid UTF-8'),
    ],
    [
      'a UTF-16 charset',
      'application/json; charset=utf-16',
      Buffer.from('{}', 'utf16le'),
      problem(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 415, 'unsupported_media_type', expect.any(String)),
    ],
    [
      'text',
      'text/plain',
      Buffer.from('hi'),
      problem(
        ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
        415,
        'unsupported_media_type',
        'Content-Type must be application/json',
      ),
    ],
  ])('when a body is %s, then the answer is its problem', async (_what, type, body, expected) => {
    const res = await fetch(url('/json'), { method: 'POST', headers: { 'content-type': type }, body });

    expect(res.status).toBe(expected.status);
    expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
    expect(await jsonOf(res)).toMatchObject(expected);
  });

  it('when a path is not valid percent-encoding (express raises a 400 of its own), then the answer is a bad_request problem', async () => {
    const res = await fetch(url('/items/%E0%A4%A'));

    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
    expect(await jsonOf(res)).toEqual(problem(ErrorCodes.BAD_REQUEST, 400, 'bad_request', expect.any(String)));
  });

  it('when no route matches, then the answer is a 404 problem naming the method and path', async () => {
    const res = await fetch(url('/nowhere'));

    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
    expect(await jsonOf(res)).toEqual(problem(ErrorCodes.NOT_FOUND, 404, 'not_found', 'No route for GET /nowhere'));
  });

  it.each([
    ['a well-formed X-Request-Id', 'order-7/abc:1', 'order-7/abc:1'],
    ['an X-Request-Id with a space', 'two words', expect.stringMatching(/^[0-9a-f-]{36}$/)],
    ['an X-Request-Id over 200 characters', 'a'.repeat(201), expect.stringMatching(/^[0-9a-f-]{36}$/)],
    ['no X-Request-Id', undefined, expect.stringMatching(/^[0-9a-f-]{36}$/)],
  ])('when a request carries %s, then the answer echoes the id it was given', async (_what, given, expected) => {
    const res = await fetch(url('/items/1'), { headers: given === undefined ? {} : { 'X-Request-Id': given } });

    expect(res.headers.get('x-request-id')).toEqual(expected);
  });
});

describe('problemOf', () => {
  it('when given a code, a detail and no details, then it builds the problem with the catalogue title and no details member', () => {
    expect(problemOf(ErrorCodes.CONFLICT, 'A replay is already running', { details: [] })).toEqual({
      type: 'tag:order-mail,2026:error:ERR_CONFLICT',
      title: ERROR_CATALOGUE.CONFLICT.description,
      status: 409,
      detail: 'A replay is already running',
      error: 'conflict',
      message: 'A replay is already running',
    });
  });

  it('when every code of the catalogue is listed, then each is unique, and an HTTP one has a 4xx or 5xx status and a snake_case wire name', () => {
    const definitions = ERROR_DEFINITIONS;

    expect(new Set(definitions.map((d) => d.code)).size).toBe(definitions.length);
    for (const d of definitions) {
      expect(d.code).toMatch(/^ERR_[A-Z_]+$/);
      expect(d.description.length).toBeGreaterThan(0);
      if (d.status !== undefined) {
        expect(d.status >= 400 && d.status <= 599).toBe(true);
        expect(d.error).toMatch(/^[a-z_]+$/);
      }
    }
  });
});
