import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer } from '../../services/mailer/src/service';
import { loadOrderApiConfig } from '../../services/order-api/src/config';
import { startOrderApi } from '../../services/order-api/src/service';
import { AMQP_URL, eventually } from '@test/helpers/broker';
import { dropSchema } from '@test/helpers/database';
import { postJson, sampleOrder, TEST_API_KEY, TEST_API_KEY_ENV } from '@test/helpers/orders';
import { apiKeyOf } from '../../services/order-api/src/domain/api-keys';
import { startSmtpCatcher } from '@test/helpers/smtp-catcher';
import { deleteStackTopology, mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';
import { capturingLogger } from '@test/helpers/logs';

/** prom-client's default gauges named `*_total`, which promtool flags; the only exceptions we allow. */
const KNOWN_DEFAULT_EXCEPTIONS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

function promtoolCheckMetrics(exposition: string): Promise<{ code: number; output: string }> {
  const filtered = exposition
    .split('\n')
    .filter((line) => !KNOWN_DEFAULT_EXCEPTIONS.some((name) => line.includes(` ${name} `) || line.startsWith(name)))
    .join('\n');
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(filtered);
  });
}

/** Metric names the catalogue (infra/METRICS.md) promises, by service. */
function cataloguedMetrics(): { both: string[]; 'order-api': string[]; mailer: string[] } {
  const text = readFileSync(path.resolve(__dirname, '../../infra/METRICS.md'), 'utf8');
  const sections = text.split(/^## /m);
  const names = (heading: string) => {
    const section = sections.find((s) => s.startsWith(heading)) ?? '';
    return [...section.matchAll(/^\|\s*`([a-z_]+)`\s*\|/gm)].map((m) => m[1]);
  };
  return { both: names('Both services'), 'order-api': names('Order API'), mailer: names('Mailer') };
}

describe('service metrics and logs', () => {
  const logs: Record<string, unknown>[] = [];
  const names = uniqueStackNames();
  let api: Awaited<ReturnType<typeof startOrderApi>>;
  let mailer: Awaited<ReturnType<typeof startMailer>>;
  let smtp: Awaited<ReturnType<typeof startSmtpCatcher>>;
  let apiUrl: string;
  let mailerUrl: string;

  beforeAll(async () => {
    smtp = await startSmtpCatcher();
    mailer = await startMailer(
      loadMailerConfig(mailerEnv(names, smtp.url)),
      capturingLogger(logs, { service: 'mailer', level: 'info' }),
    );
    api = await startOrderApi(
      loadOrderApiConfig({
        PORT: '0',
        AMQP_URL,
        ORDERS_EXCHANGE: names.exchange,
        LOG_LEVEL: 'info',
        ...TEST_API_KEY_ENV,
      }),
      capturingLogger(logs, { service: 'order-api', level: 'info' }),
    );
    apiUrl = `http://127.0.0.1:${api.port}`;
    mailerUrl = `http://127.0.0.1:${mailer.port}`;
    await eventually(() => api.isReady() && mailer.isReady(), 15000, 'services ready');
    const res = await postJson(apiUrl, '/orders', sampleOrder({ orderId: 'MET-secret-7' }), {
      'X-Request-Id': 'corr-metrics-1',
    });
    expect(res.status).toBe(202);
    await smtp.waitForMails(1);
    await postJson(apiUrl, '/orders', { nonsense: true });
    await postJson(apiUrl, '/orders', sampleOrder(), { authorization: `Bearer ${'w'.repeat(40)}` });
  });

  afterAll(async () => {
    await api.stop();
    await mailer.stop();
    await dropSchema(names.schema);
    await deleteStackTopology({ ...names, queues: mailerQueueNamesFor(names) });
    await smtp.close();
  });

  it.each(['order-api', 'mailer'] as const)(
    'when %s exposes /metrics, then promtool check metrics finds nothing to object to',
    async (service) => {
      const text = await (await fetch(`${service === 'mailer' ? mailerUrl : apiUrl}/metrics`)).text();

      const { code, output } = await promtoolCheckMetrics(text);

      expect({ code, output }).toEqual({ code: 0, output: '' });
    },
  );

  it.each(['order-api', 'mailer'] as const)(
    'when %s exposes /metrics, then every catalogued metric is there',
    async (service) => {
      const text = await (await fetch(`${service === 'mailer' ? mailerUrl : apiUrl}/metrics`)).text();
      const catalogue = cataloguedMetrics();
      const expected = [...catalogue.both, ...catalogue[service]];
      expect(expected.length).toBeGreaterThan(3);

      const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));

      expect(expected.filter((name) => !exposed.has(name))).toEqual([]);
    },
  );

  it('when metrics are scraped, then no order id or address appears as a label value', async () => {
    const text =
      (await (await fetch(`${apiUrl}/metrics`)).text()) + (await (await fetch(`${mailerUrl}/metrics`)).text());

    expect(text).not.toContain('MET-secret-7');
    expect(text).not.toContain('ada@example.com');
    expect(text).toContain('route="/orders"');
  });

  it('when an order is sent, then the series that matter have counted it and the quiet ones exist at zero', async () => {
    const api = await (await fetch(`${apiUrl}/metrics`)).text();
    const mail = await (await fetch(`${mailerUrl}/metrics`)).text();

    expect(api).toMatch(
      new RegExp(`^orders_accepted_total\\{key_id="${apiKeyOf(TEST_API_KEY).id}",service="order-api"\\} 1$`, 'm'),
    );
    expect(api).toMatch(/^http_requests_total\{method="POST",route="\/orders",status="401",service="order-api"\} 1$/m);
    expect(api).toMatch(/^order_events_published_total\{result="confirmed",service="order-api"\} 1$/m);
    expect(api).toMatch(/^order_events_published_total\{result="timeout",service="order-api"\} 0$/m);
    expect(api).toMatch(/^http_requests_total\{method="POST",route="\/orders",status="400",service="order-api"\} 1$/m);
    expect(api).toMatch(/^broker_connected\{service="order-api"\} 1$/m);
    expect(mail).toMatch(/^mailer_emails_total\{template="order-confirmation",result="sent",service="mailer"\} 1$/m);
    expect(mail).toMatch(/^mailer_dead_letters_total\{reason="smtp_rejected",service="mailer"\} 0$/m);
    expect(mail).toMatch(/^mailer_smtp_responses_total\{reply_class="2xx",service="mailer"\} 1$/m);
    expect(mail).toMatch(/^mailer_end_to_end_latency_seconds_count\{service="mailer"\} 1$/m);
    expect(mail).toMatch(/^mailer_smtp_up\{service="mailer"\} 1$/m);
    expect(mail).toMatch(/^mailer_database_up\{service="mailer"\} 1$/m);
  });

  it('when an order flows through, then both services log it with orderId, eventId and the request id as correlation id', () => {
    const accepted = logs.find((l) => l.service === 'order-api' && l.msg === 'order accepted');
    const sent = logs.find((l) => l.service === 'mailer' && l.msg === 'email sent');

    expect(accepted).toMatchObject({
      orderId: 'MET-secret-7',
      correlationId: 'corr-metrics-1',
      keyId: apiKeyOf(TEST_API_KEY).id,
    });
    expect(sent).toMatchObject({
      orderId: 'MET-secret-7',
      eventId: accepted?.eventId,
      correlationId: 'corr-metrics-1',
      attempt: 1,
      recipient: 'a***@example.com',
    });
    expect(JSON.stringify(logs)).not.toContain('ada@example.com');
  });

  it('when orders are posted with a key and with a wrong one, then neither key appears in a log line or a metric', async () => {
    const text = (await (await fetch(`${apiUrl}/metrics`)).text()) + JSON.stringify(logs);

    expect(text).not.toContain(TEST_API_KEY);
    expect(text).not.toContain('w'.repeat(40));
  });
});
