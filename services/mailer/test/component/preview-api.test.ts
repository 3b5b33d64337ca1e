import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AppError,
  parseOrder,
  problemOf,
  type FieldIssue,
  type HttpErrorCode,
  type ProblemDetails,
} from '@order-mail/shared/contract';
import { jsonOf } from '@test/helpers/http';
import { sampleOrder } from '@test/helpers/orders';
import { closedPort } from '@test/helpers/ports';
import { ADMIN_AUTH, mailerEnv, uniqueStackNames } from '@test/helpers/stack';
import { loadMailerConfig } from '../../src/config';
import { previewOrderEmail } from '../../src/domain/order-preview';
import { composeDepsFromConfig, startMailer, type RunningMailer } from '../../src/service';

/** What POST /orders answers for `body` when it is invalid (status and problem+json body), from the order API's own parser. */
function ordersApiRefusal(body: unknown): ProblemDetails {
  try {
    parseOrder(body);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return problemOf(err.code as HttpErrorCode, err.message, { details: err.details as FieldIssue[] });
  }
  throw new Error('the order API accepts this order');
}

/** Orders POST /orders refuses: a field, several fields, and a total that is not the computed one. */
const INVALID_ORDERS: [string, unknown][] = [
  ['a bad email address', sampleOrder({ customer: { email: 'not-an-address', name: 'Ada' } })],
  ['no items and an unknown currency', { ...sampleOrder({ items: [] }), currency: 'XXY' }],
  ['a wrong total', { ...sampleOrder(), total: 1 }],
  ['an unknown field', { ...sampleOrder(), giftWrap: true }],
  ['a card number as payment method', { ...sampleOrder(), paymentMethod: '4242 4242 4242 4242' }],
  ['not an object', 'order'],
];

describe('POST /preview (mailer, with RabbitMQ, PostgreSQL and SMTP all unreachable)', () => {
  let mailer: RunningMailer;
  let base: string;
  let env: Record<string, string>;
  const preview = (body: unknown, headers: Record<string, string> = ADMIN_AUTH) =>
    fetch(`${base}/preview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    // Nothing listens on these ports: a preview must not need any of them.
    const [amqp, postgres, smtp] = [await closedPort(), await closedPort(), await closedPort()];
    env = mailerEnv(uniqueStackNames(), `smtp://127.0.0.1:${smtp}`, {
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${amqp}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${postgres}/test`,
    });
    mailer = await startMailer(loadMailerConfig(env));
    base = `http://127.0.0.1:${mailer.port}`;
  });

  afterAll(async () => {
    await mailer.stop();
  });

  it('when an order is posted with the admin token, then 200 { subject, html, text } is the email the worker would compose', async () => {
    const res = await preview({ order: sampleOrder({ orderId: 'PRV-1' }) });

    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(Object.keys(body).sort()).toEqual(['html', 'subject', 'text']);
    expect(body.subject).toBe('Your order PRV-1 is confirmed');
    expect(body.html).toMatch(/^<!doctype html>/i);
    expect(body.html).toContain('PRV-1');
    expect(body.text).toContain('PRV-1');
    // The same composition, offline, from the same config: identical but for what the clock decides.
    const deps = await composeDepsFromConfig(loadMailerConfig(env));
    const offline = previewOrderEmail(
      { order: parseOrder(sampleOrder({ orderId: 'PRV-1', placedAt: '2025-11-28T14:05:00+01:00' })) },
      { eventId: '00000000-0000-4000-8000-000000000000', correlationId: 'x', acceptedAt: new Date() },
      deps,
    );
    const online = await jsonOf(
      preview({ order: sampleOrder({ orderId: 'PRV-1', placedAt: '2025-11-28T14:05:00+01:00' }) }),
    );
    expect(online).toEqual(offline);
    expect(mailer.isReady()).toBe(false);
  });

  it('when a locale is given, then it overrides customer.locale', async () => {
    const order = sampleOrder({ customer: { email: 'ada@example.com', name: 'Ada', locale: 'en' } });

    const german = await jsonOf(preview({ order, locale: 'de-CH' }));
    const english = await jsonOf(preview({ order }));

    expect(german.html).toMatch(/<html[^>]* lang="de"/);
    expect(english.html).toMatch(/<html[^>]* lang="en"/);
    expect(german.subject).not.toBe(english.subject);
  });

  it("when an order of 100 items (samples/long.json, more than the admin API's 16 KiB) is posted, then it is previewed", async () => {
    const order: unknown = JSON.parse(readFileSync(path.join(__dirname, '../../../../samples/long.json'), 'utf8'));
    expect(JSON.stringify({ order }).length).toBeGreaterThan(16 * 1024);

    const res = await preview({ order });

    expect(res.status).toBe(200);
    expect((await jsonOf(res)).subject).toBe('Your order LONG-6001 is confirmed');
  });

  it.each(INVALID_ORDERS)(
    'when the order has %s, then the answer is the 400 POST /orders gives',
    async (_case, order) => {
      const expected = ordersApiRefusal(order);

      const res = await preview({ order });

      expect(res.status).toBe(expected.status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await jsonOf(res)).toEqual(expected);
    },
  );

  it.each([
    ['no order', 'order', {}],
    ['an unknown key', '', { order: sampleOrder(), lang: 'de' }],
    ['a locale that is not BCP 47', 'locale', { order: sampleOrder(), locale: 'not a locale!' }],
  ])('when the request has %s, then 400 validation_failed names %p', async (_case, path, body) => {
    const res = await preview(body);

    expect(res.status).toBe(400);
    const problem = await jsonOf(res);
    expect(problem).toMatchObject({ error: 'validation_failed' });
    expect(problem.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('when the token is missing or wrong, then 401, before the body is read', async () => {
    expect((await preview({ order: sampleOrder() }, {})).status).toBe(401);
    expect((await preview('not even JSON', { authorization: 'Bearer wrong' })).status).toBe(401);
  });

  it('when the body is not JSON, then 415 or 400 as for POST /orders', async () => {
    const res = await fetch(`${base}/preview`, {
      method: 'POST',
      headers: { ...ADMIN_AUTH, 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(res.status).toBe(415);
    expect((await preview('{"order": ', ADMIN_AUTH)).status).toBe(400);
  });

  it('when the declared body is over the limit, then 413', async () => {
    const res = await preview({ order: sampleOrder(), padding: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
  });
});

describe('POST /preview without ADMIN_TOKEN', () => {
  it('when the mailer has no ADMIN_TOKEN, then the preview is off like the admin API (403)', async () => {
    const env = mailerEnv(uniqueStackNames(), `smtp://127.0.0.1:${await closedPort()}`, {
      AMQP_URL: `amqp://guest:guest@127.0.0.1:${await closedPort()}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/test`,
      ADMIN_TOKEN: '',
    });
    const mailer = await startMailer(loadMailerConfig(env));
    try {
      const res = await fetch(`http://127.0.0.1:${mailer.port}/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...ADMIN_AUTH },
        body: JSON.stringify({ order: sampleOrder() }),
      });

      expect(res.status).toBe(403);
      expect(await jsonOf(res)).toMatchObject({ error: 'admin_api_disabled' });
    } finally {
      await mailer.stop();
    }
  });
});
