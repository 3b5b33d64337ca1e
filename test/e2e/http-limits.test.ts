import { connect } from 'node:net';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { ADMIN_MAX_BODY_BYTES } from '../../services/mailer/src/entry-points/http/app';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { loadOrderApiConfig } from '../../services/order-api/src/config';
import { MAX_BODY_BYTES } from '../../services/order-api/src/entry-points/http/app';
import { startOrderApi, type RunningOrderApi } from '../../services/order-api/src/service';
import { AMQP_URL, eventually } from '@test/helpers/broker';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { deleteStackTopology, mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';
import { capturingLogger } from '@test/helpers/logs';
import { bearer, TEST_API_KEY_ENV } from '@test/helpers/orders';

/**
 * What each service answers to requests that are too large, too slow or not HTTP, over a raw
 * socket against the real servers (short timeouts so that the slow cases end soon). Nothing here
 * measures time: each case asserts what arrives on the connection before it closes.
 */

const TOKEN = 'admin-token-for-limit-tests-0123';
const TIMEOUTS = { HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '600' };

interface RawAnswer {
  /** Every status code that arrived on the connection, in order. */
  statuses: number[];
  headers: Record<string, string>;
  body: unknown;
}

/**
 * Opens a connection, writes `chunks` and nothing else, and collects what arrives until the
 * server closes the connection. A server that never closed would fail the test by its timeout.
 */
function exchange(port: number, chunks: (string | Buffer)[]): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    // Writing more than the server reads can end in a reset; what arrived before it still counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('utf8');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const headers = Object.fromEntries(
        head
          .split('\r\n')
          .slice(1)
          .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      try {
        resolve({ statuses, headers, body: JSON.parse(rest.join('\r\n\r\n')) });
      } catch {
        reject(new Error(`no JSON answer in: ${JSON.stringify(text)}`));
      }
    });
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

describe('HTTP limits of both services', () => {
  const logs: Record<string, unknown>[] = [];
  const names = uniqueStackNames();
  let smtp: SmtpCatcher;
  let api: RunningOrderApi;
  let mailer: RunningMailer;
  const port = (service: 'order-api' | 'mailer') => (service === 'order-api' ? api.port : mailer.port);

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, smtp.url, { ...TIMEOUTS, ADMIN_TOKEN: TOKEN })),
      capturingLogger(logs, { service: 'mailer' }),
    );
    api = await startOrderApi(
      loadOrderApiConfig({ PORT: '0', AMQP_URL, ORDERS_EXCHANGE: names.exchange, ...TIMEOUTS, ...TEST_API_KEY_ENV }),
      capturingLogger(logs, { service: 'order-api' }),
    );
    await eventually(() => api.isReady() && mailer.isReady(), 15000, 'services ready');
  });

  afterAll(async () => {
    await api?.stop();
    await mailer?.stop();
    await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    await smtp?.close();
  });

  afterEach(() => {
    // Bad input is the client's problem: never an error line (with a stack) in the log.
    expect(logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
  });

  const head = (requestLine: string, headers: Record<string, string | number>) =>
    `${requestLine}\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;

  describe('when a request declares a body over the limit (Content-Length) and sends none of it', () => {
    it.each([
      // Before authentication (no key), yet the answer is about the body.
      ['order-api', 'POST /orders', MAX_BODY_BYTES, { 'Content-Type': 'application/json' }],
      ['order-api', 'POST /orders', MAX_BODY_BYTES, { 'Content-Type': 'text/plain' }],
      ['order-api', 'GET /healthz', MAX_BODY_BYTES, {}],
      ['mailer', 'POST /dead-letters/replay', ADMIN_MAX_BODY_BYTES, { 'Content-Type': 'application/json' }],
      // Before authentication: no token, yet the answer is about the body.
      ['mailer', 'POST /dead-letters/replay', ADMIN_MAX_BODY_BYTES, {}],
      ['mailer', 'GET /deliveries', ADMIN_MAX_BODY_BYTES, {}],
    ] as const)(
      'then %s answers %s with 413 JSON at once and closes the connection',
      async (service, route, limit, headers) => {
        const answer = await exchange(port(service), [
          head(`${route} HTTP/1.1`, { ...headers, 'Content-Length': limit + 1 }),
        ]);

        // One answer only: had the server waited for the body, the request timeout would answer 408.
        expect(answer.statuses).toEqual([413]);
        expect(answer.headers.connection).toBe('close');
        expect(answer.body).toEqual({
          type: 'tag:order-mail,2026:error:ERR_PAYLOAD_TOO_LARGE',
          title: expect.any(String),
          status: 413,
          detail: `The body declares ${limit + 1} bytes, over the limit of ${limit} bytes`,
          error: 'payload_too_large',
          message: `The body declares ${limit + 1} bytes, over the limit of ${limit} bytes`,
        });
      },
    );
  });

  describe('when a chunked body (no Content-Length) goes over the limit', () => {
    it.each([
      ['order-api', 'POST /orders', MAX_BODY_BYTES, bearer()],
      ['mailer', 'POST /dead-letters/replay', ADMIN_MAX_BODY_BYTES, { Authorization: `Bearer ${TOKEN}` }],
    ] as const)('then %s answers %s with 413 JSON once the body has arrived', async (service, route, limit, auth) => {
      const body = `{"x":"${'a'.repeat(limit)}"}`;
      const answer = await exchange(port(service), [
        head(`${route} HTTP/1.1`, {
          ...auth,
          'Content-Type': 'application/json',
          'Transfer-Encoding': 'chunked',
          Connection: 'close',
        }),
        `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      ]);

      expect(answer.statuses).toEqual([413]);
      expect(answer.body).toMatchObject({ error: 'payload_too_large' });
    });
  });

  describe('when the headers do not arrive within HTTP_HEADERS_TIMEOUT_MS', () => {
    it.each(['order-api', 'mailer'] as const)('then %s answers 408 JSON and closes the connection', async (service) => {
      const answer = await exchange(port(service), ['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n']);

      expect(answer.statuses).toEqual([408]);
      expect(answer.headers.connection).toBe('close');
      expect(answer.body).toEqual({
        type: 'tag:order-mail,2026:error:ERR_REQUEST_TIMEOUT',
        title: expect.any(String),
        status: 408,
        detail: 'The request did not arrive in time; the connection is closed',
        error: 'request_timeout',
        message: 'The request did not arrive in time; the connection is closed',
      });
    });
  });

  describe('when the body does not arrive within HTTP_REQUEST_TIMEOUT_MS', () => {
    it.each([
      ['order-api', 'POST /orders', bearer()],
      ['mailer', 'POST /dead-letters/replay', { Authorization: `Bearer ${TOKEN}` }],
    ] as const)('then %s answers %s with 408 JSON and closes the connection', async (service, route, auth) => {
      const answer = await exchange(port(service), [
        head(`${route} HTTP/1.1`, { ...auth, 'Content-Type': 'application/json', 'Content-Length': 100 }),
        '{"orderId":',
      ]);

      expect(answer.statuses).toEqual([408]);
      expect(answer.headers.connection).toBe('close');
      expect(answer.body).toMatchObject({ error: 'request_timeout' });
    });

    it.each([
      ['order-api', 'POST /orders', MAX_BODY_BYTES, bearer()],
      ['mailer', 'POST /dead-letters/replay', ADMIN_MAX_BODY_BYTES, { Authorization: `Bearer ${TOKEN}` }],
    ] as const)(
      'then %s answers %s declaring exactly the limit with 408, not 413 (the limit is inclusive)',
      async (service, route, limit, auth) => {
        const answer = await exchange(port(service), [
          head(`${route} HTTP/1.1`, {
            ...auth,
            'Content-Type': 'application/json',
            'Content-Length': limit,
          }),
        ]);

        expect(answer.statuses).toEqual([408]);
      },
    );
  });

  describe('when an answer goes out before the body was read', () => {
    it.each([
      ['order-api', 'POST /orders', 415, { 'Content-Type': 'text/plain', ...bearer() }],
      ['order-api', 'POST /orders', 401, { 'Content-Type': 'application/json' }],
      ['order-api', 'POST /orders', 401, { 'Content-Type': 'application/json', ...bearer('w'.repeat(64)) }],
      ['mailer', 'POST /dead-letters/replay', 401, { 'Content-Type': 'application/json' }],
    ] as const)(
      'then %s closes the connection after answering %s with %s, without waiting for the body',
      async (service, route, status, headers) => {
        const answer = await exchange(port(service), [
          head(`${route} HTTP/1.1`, { ...headers, 'Content-Length': 1000 }),
        ]);

        // Had the connection stayed open for the body, the request timeout would add a 408.
        expect(answer.statuses).toEqual([status]);
        // And the answer says so, rather than promising a keep-alive.
        expect(answer.headers.connection).toBe('close');
      },
    );
  });

  describe('when Node refuses the request before routing', () => {
    const bigHeaders = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`;
    it.each([
      ['order-api', 'not HTTP', 400, 'bad_request', 'NOT HTTP AT ALL\r\n\r\n'],
      ['mailer', 'not HTTP', 400, 'bad_request', 'NOT HTTP AT ALL\r\n\r\n'],
      ['order-api', 'headers over 16 KiB', 431, 'headers_too_large', bigHeaders],
      ['mailer', 'headers over 16 KiB', 431, 'headers_too_large', bigHeaders],
    ] as const)('then %s answers a request that is %s with JSON %s %s', async (service, _what, status, error, raw) => {
      const answer = await exchange(port(service), [raw]);

      expect(answer.statuses).toEqual([status]);
      expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(answer.body).toMatchObject({ error, message: expect.any(String) });
    });
  });
});
