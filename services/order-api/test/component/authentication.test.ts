import { createHash, randomBytes } from 'node:crypto';
import type * as amqp from 'amqplib';
import type { Logger } from '@order-mail/shared/logger';
import { loadOrderApiConfig } from '../../src/config';
import { apiKeyOf } from '../../src/domain/api-keys';
import { startOrderApi, type RunningOrderApi } from '../../src/service';
import { AMQP_URL, connectTestBroker, eventually } from '@test/helpers/broker';
import { jsonOf } from '@test/helpers/http';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { uniqueName } from '@test/helpers/names';
import { bearer, sampleOrder } from '@test/helpers/orders';

/**
 * Who may post orders: every combination of credentials and route against a real order API on a
 * real RabbitMQ (a tap queue shows what was published), the rate limit per key, and
 * ORDER_API_AUTH=off.
 */

const ROUTING_KEY = 'order.confirmed';
/** Two keys valid at once, as during a rotation: the old one given as is, the new one as its SHA-256. */
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(24).toString('base64url');
const KEY_B_SHA256 = createHash('sha256').update(KEY_B).digest('hex');
const ID_A = apiKeyOf(KEY_A).id;
const ID_B = apiKeyOf(KEY_B).id;

let broker: { connection: amqp.ChannelModel; channel: amqp.Channel };
let exchange: string;
let tap: string;

beforeAll(async () => {
  exchange = uniqueName('orders');
  tap = uniqueName('orders-tap');
  broker = await connectTestBroker();
  await broker.channel.assertExchange(exchange, 'topic', { durable: true });
  await broker.channel.assertQueue(tap, { durable: false });
  await broker.channel.bindQueue(tap, exchange, ROUTING_KEY);
});

afterAll(async () => {
  await broker.channel.deleteQueue(tap);
  await broker.channel.deleteExchange(exchange);
  await broker.connection.close();
});

async function startApi(env: Record<string, string>, logger: Logger): Promise<{ api: RunningOrderApi; url: string }> {
  const api = await startOrderApi(
    loadOrderApiConfig({ PORT: '0', AMQP_URL, ORDERS_EXCHANGE: exchange, LOG_LEVEL: 'debug', ...env }),
    logger,
  );
  await eventually(() => api.isReady(), 10000, 'order API ready');
  return { api, url: `http://127.0.0.1:${api.port}` };
}

function post(url: string, headers: Record<string, string>, orderId = 'AUTH-1') {
  return fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(sampleOrder({ orderId })),
  });
}

/** The order ids published since the last call, up to a marker order posted with `markerHeaders`. */
async function publishedUpToMarker(url: string, markerHeaders: Record<string, string>): Promise<string[]> {
  const marker = `marker-${randomBytes(4).toString('hex')}`;
  expect((await post(url, markerHeaders, marker)).status).toBe(202);
  const seen: string[] = [];
  await eventually(async () => {
    for (
      let msg = await broker.channel.get(tap, { noAck: true });
      msg;
      msg = await broker.channel.get(tap, { noAck: true })
    )
      seen.push((JSON.parse(msg.content.toString()) as { order: { orderId: string } }).order.orderId);
    return seen.includes(marker);
  });
  return seen.filter((id) => id !== marker);
}

async function acceptedCount(url: string, keyId: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^orders_accepted_total\\{key_id="${keyId}",service="order-api"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

describe('POST /orders with ORDER_API_KEYS holding a raw key and a sha256: key', () => {
  const logs: LogLine[] = [];
  let api: RunningOrderApi;
  let url: string;

  beforeAll(async () => {
    ({ api, url } = await startApi(
      { ORDER_API_KEYS: `${KEY_A}, sha256:${KEY_B_SHA256}` },
      capturingLogger(logs, { service: 'order-api' }),
    ));
    await broker.channel.purgeQueue(tap);
  });

  afterAll(async () => {
    await api.stop();
  });

  const credentials: [string, Record<string, string>, 401 | 202][] = [
    ['no Authorization header', {}, 401],
    ['an empty Bearer', { authorization: 'Bearer' }, 401],
    ['the Basic scheme', { authorization: `Basic ${Buffer.from(`u:${KEY_A}`).toString('base64')}` }, 401],
    ['the right key under another scheme', { authorization: `Token ${KEY_A}` }, 401],
    ['the right key without a scheme', { authorization: KEY_A }, 401],
    ['a wrong key of the same length', bearer(randomBytes(32).toString('hex')), 401],
    ['the key with a character more', bearer(`${KEY_A}0`), 401],
    ['the key with a character less', bearer(KEY_A.slice(0, -1)), 401],
    ['a one-character key', bearer('x'), 401],
    ['the key in upper case', bearer(KEY_A.toUpperCase()), 401],
    ['the sha256: entry itself', bearer(KEY_B_SHA256), 401],
    ['the sha256: entry with its prefix', bearer(`sha256:${KEY_B_SHA256}`), 401],
    ['the raw key (old key of a rotation)', bearer(KEY_A), 202],
    ['the key whose SHA-256 is configured (new key of a rotation)', bearer(KEY_B), 202],
    ['the raw key, scheme in lower case', { authorization: `bearer ${KEY_A}` }, 202],
  ];

  describe.each(credentials)('when the request carries %s', (_what, headers, orderStatus) => {
    it(`then POST /orders answers ${orderStatus}${orderStatus === 401 ? ' with WWW-Authenticate: Bearer and publishes nothing' : ' and publishes the order once'}`, async () => {
      // Arrange
      const orderId = `AUTH-${randomBytes(3).toString('hex')}`;

      // Act
      const res = await post(url, headers, orderId);

      // Assert
      expect(res.status).toBe(orderStatus);
      if (orderStatus === 401) {
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="order-api"/);
        expect(await jsonOf(res)).toEqual({
          type: 'tag:order-mail,2026:error:ERR_UNAUTHORIZED',
          title: expect.any(String),
          status: 401,
          detail: expect.any(String),
          error: 'unauthorized',
          message: expect.any(String),
        });
        expect(await publishedUpToMarker(url, bearer(KEY_A))).toEqual([]);
      } else {
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect(await jsonOf(res)).toMatchObject({ orderId, status: 'accepted' });
        expect(await publishedUpToMarker(url, bearer(KEY_A))).toEqual([orderId]);
      }
    });

    it.each(['/healthz', '/readyz', '/metrics'])('then GET %s answers 200 (ops routes are open)', async (route) => {
      const res = await fetch(`${url}${route}`, { headers });

      expect(res.status).toBe(200);
    });
  });

  it.each([
    ['no header', {}, 'Bearer realm="order-api"'],
    ['another scheme', { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }, 'Bearer realm="order-api"'],
    [
      'a wrong key',
      bearer('w'.repeat(64)),
      'Bearer realm="order-api", error="invalid_token", error_description="The key is not valid"',
    ],
  ])(
    'when the request carries %s, then the challenge is %p (RFC 6750 §3: an error code only for a token sent)',
    async (_what, headers, challenge) => {
      const res = await post(url, headers);

      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(challenge);
    },
  );

  it('when an order is accepted with the sha256: key, then it is counted under its key id only and logged with it', async () => {
    // Arrange
    const [beforeA, beforeB] = [await acceptedCount(url, ID_A), await acceptedCount(url, ID_B)];

    // Act
    const res = await post(url, bearer(KEY_B), 'AUTH-count-b');

    // Assert
    expect(res.status).toBe(202);
    expect(await acceptedCount(url, ID_B)).toBe(beforeB + 1);
    expect(await acceptedCount(url, ID_A)).toBe(beforeA);
    expect(logs.filter((l) => l.msg === 'order accepted' && l.orderId === 'AUTH-count-b')).toEqual([
      expect.objectContaining({ keyId: ID_B }),
    ]);
  });

  it('when a wrong key was sent, then the refusal is logged with its reason and the key id of what was sent', async () => {
    // Arrange
    const wrong = 'v'.repeat(48);

    // Act
    await post(url, bearer(wrong));

    // Assert
    expect(logs.filter((l) => l.msg === 'order refused: no valid key').at(-1)).toMatchObject({
      level: 30,
      reason: 'unknown_key',
      presentedKeyId: apiKeyOf(wrong).id,
    });
  });

  it('when every request above was logged, then no line holds a key, only key ids', () => {
    const text = JSON.stringify(logs);

    expect(text).not.toContain(KEY_A);
    expect(text).not.toContain(KEY_B);
    expect(text).not.toContain('v'.repeat(48));
    expect(logs.find((l) => l.msg === 'POST /orders requires a key')).toMatchObject({ keyIds: [ID_A, ID_B] });
  });
});

describe('POST /orders over the rate limit (ORDER_API_RATE_LIMIT=3)', () => {
  const logs: LogLine[] = [];
  let api: RunningOrderApi;
  let url: string;

  beforeAll(async () => {
    ({ api, url } = await startApi(
      { ORDER_API_KEYS: `${KEY_A},${KEY_B}`, ORDER_API_RATE_LIMIT: '3' },
      capturingLogger(logs, { service: 'order-api' }),
    ));
    await broker.channel.purgeQueue(tap);
  });

  afterAll(async () => {
    await api.stop();
  });

  it('when a key sends a fourth request within the minute, then it gets 429 with Retry-After and RateLimit headers, publishes nothing, and the other key is not limited', async () => {
    // Arrange: a wrong key's requests count for nobody; an invalid order counts for its key
    for (let i = 0; i < 5; i++) expect((await post(url, bearer('w'.repeat(40)))).status).toBe(401);
    const invalid = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(KEY_A) },
      body: '{"orderId":""}',
    });
    expect(invalid.status).toBe(400);
    const second = await post(url, bearer(KEY_A), 'RL-2');
    const third = await post(url, bearer(KEY_A), 'RL-3');

    // Act
    const fourth = await post(url, bearer(KEY_A), 'RL-4');

    // Assert: the answers within the limit say what is left (draft-ietf-httpapi-ratelimit-headers-08)
    expect([second.status, third.status]).toEqual([202, 202]);
    expect(second.headers.get('ratelimit-policy')).toMatch(/^"3-in-1min"; q=3; w=60; pk=:[A-Za-z0-9+/=]+:$/);
    expect(second.headers.get('ratelimit')).toMatch(/^"3-in-1min"; r=1; t=\d+$/);
    expect(third.headers.get('ratelimit')).toMatch(/^"3-in-1min"; r=0; t=\d+$/);
    // Assert: the fourth (RFC 6585 §4)
    expect(fourth.status).toBe(429);
    const retryAfter = Number(fourth.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 0 && retryAfter <= 60).toBe(true);
    expect(fourth.headers.get('ratelimit')).toMatch(/^"3-in-1min"; r=0; t=\d+$/);
    expect(await jsonOf(fourth)).toEqual({
      type: 'tag:order-mail,2026:error:ERR_RATE_LIMITED',
      title: expect.any(String),
      status: 429,
      detail: expect.stringContaining(`More than 3 requests per minute with key ${ID_A}`),
      error: 'rate_limited',
      message: expect.stringContaining(`More than 3 requests per minute with key ${ID_A}`),
    });
    expect(logs.filter((l) => l.msg === 'order refused: rate limit')).toEqual([
      expect.objectContaining({ level: 30, keyId: ID_A }),
    ]);
    // Assert: nothing of the fourth was published; the other key still gets through (it posts the marker)
    expect(await publishedUpToMarker(url, bearer(KEY_B))).toEqual(['RL-2', 'RL-3']);
  });
});

describe('POST /orders with ORDER_API_AUTH=off', () => {
  const logs: LogLine[] = [];
  let api: RunningOrderApi;
  let url: string;

  beforeAll(async () => {
    ({ api, url } = await startApi({ ORDER_API_AUTH: 'off' }, capturingLogger(logs, { service: 'order-api' })));
    await broker.channel.purgeQueue(tap);
  });

  afterAll(async () => {
    await api.stop();
  });

  it('when it starts, then it logs a warning that authentication is off', () => {
    expect(logs.filter((l) => l.level === 40)).toEqual([
      expect.objectContaining({ auth: 'off', msg: expect.stringContaining('authentication is off') }),
    ]);
  });

  it('when /readyz is asked, then it is ready and reports auth: off', async () => {
    const res = await fetch(`${url}/readyz`);

    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toEqual({
      status: 'ready',
      checks: { broker: 'ready', brokerNode: '127.0.0.1:5672', auth: 'off' },
    });
  });

  it.each([
    ['no Authorization header', {}],
    ['any Bearer token', bearer('anything')],
  ])('when an order comes with %s, then it is accepted and counted under key_id "none"', async (_what, headers) => {
    // Arrange
    const before = await acceptedCount(url, 'none');

    // Act
    const res = await post(url, headers, 'OFF-1');

    // Assert
    expect(res.status).toBe(202);
    expect(await acceptedCount(url, 'none')).toBe(before + 1);
  });
});
