import { parse as parseYaml } from 'yaml';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectTestBroker, eventually } from '@test/helpers/broker';
import { uniqueName } from '@test/helpers/names';
import { postJson, sampleOrder } from '@test/helpers/orders';
import {
  RABBITMQ_DETAILED_TARGET,
  startPrometheus,
  type PromSample,
  type TestPrometheus,
} from '@test/helpers/prometheus';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startTestStack, type TestStack } from '@test/helpers/stack';

const GRAFANA_DIR = join(__dirname, '..', '..', 'infra', 'grafana');
const DASHBOARD_DIR = join(GRAFANA_DIR, 'dashboards');
const PROVISIONING_DIR = join(GRAFANA_DIR, 'provisioning');

/**
 * What `$__rate_interval` becomes in the live check. Grafana makes it
 * max($__interval + scrape interval, 4 × scrape interval), i.e. at least 1m against the compose
 * stack's 15s scrapes. Here Prometheus scrapes every 1s and exists for only ~10 s before the
 * queries run: 30s covers the whole traffic phase (which RabbitMQ's 5 s statistics refresh and a
 * busy CI machine stretch) so the rates asserted > 0 below still see every increase, and it holds
 * far more than the 2 samples rate() needs (and Grafana's 4 scrapes). 15s also passes, but the
 * traffic is already ~10 s old when the queries run, which leaves too little margin; 1m would work too.
 */
const RATE_INTERVAL = '30s';
/** What `$__interval` becomes (Grafana's step for a 1h range on a ~1000 px panel is a few seconds). */
const INTERVAL = '5s';

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  type: string;
  name: string;
  query?: unknown;
}
interface Dashboard {
  uid?: string;
  title?: string;
  templating?: { list?: Variable[] };
  panels?: Panel[];
}

const DATASOURCE_REFS = ['${datasource}', '$datasource'];

function dashboardFiles(): string[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard;
}

/** Every panel, those inside collapsed rows included. */
function allPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

function loadYaml(text: string): unknown {
  return parseYaml(text);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? yamlFiles(join(dir, entry.name)) : /\.ya?ml$/.test(entry.name) ? [join(dir, entry.name)] : [],
  );
}

/** Range selectors outside string literals, e.g. `[5m]` in `rate(x[5m])` but not `[.]` in `{queue=~"a[.]b"}`. */
function rangeSelectors(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...withoutStrings.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]);
}

/** The expression as Grafana would send it for this test's stack. */
function substitute(expr: string, queue: string): string {
  return expr
    .replaceAll('${__rate_interval}', RATE_INTERVAL)
    .replaceAll('$__rate_interval', RATE_INTERVAL)
    .replaceAll('${__interval}', INTERVAL)
    .replaceAll('$__interval', INTERVAL)
    .replaceAll('${datasource}', 'prometheus')
    .replaceAll('$datasource', 'prometheus')
    .replaceAll('${queue}', queue)
    .replaceAll('$queue', queue);
}

describe('Grafana provisioning and dashboards (static)', () => {
  it('has at least one dashboard', () => {
    expect(dashboardFiles().length).toBeGreaterThan(0);
  });

  it.each(dashboardFiles())(
    '%s parses, has a stable uid, a datasource variable, and every panel and target uses ${datasource}',
    (file) => {
      const dashboard = loadDashboard(file);
      const problems: string[] = [];

      if (!dashboard.uid || !/^[A-Za-z0-9_-]{1,40}$/.test(dashboard.uid)) problems.push(`uid: ${dashboard.uid}`);
      if (!dashboard.title) problems.push('no title');
      const variable = dashboard.templating?.list?.find((v) => v.name === 'datasource');
      if (variable?.type !== 'datasource' || variable.query !== 'prometheus') {
        problems.push(`variable datasource: ${JSON.stringify(variable)}`);
      }

      const panels = allPanels(dashboard);
      if (panels.length === 0) problems.push('no panels');
      const ids = panels.map((p) => p.id);
      if (new Set(ids).size !== ids.length) problems.push(`duplicate panel ids: ${ids.join(',')}`);
      for (const panel of panels) {
        const where = `panel "${panel.title}"`;
        if (panel.datasource?.type !== 'prometheus' || !DATASOURCE_REFS.includes(panel.datasource.uid ?? '')) {
          problems.push(`${where} datasource ${JSON.stringify(panel.datasource)}`);
        }
        if (panel.type !== 'row' && (panel.targets ?? []).length === 0) problems.push(`${where} has no targets`);
        for (const target of panel.targets ?? []) {
          const what = `${where} target ${target.refId}`;
          if (target.datasource?.type !== 'prometheus' || !DATASOURCE_REFS.includes(target.datasource.uid ?? '')) {
            problems.push(`${what} datasource ${JSON.stringify(target.datasource)}`);
          }
          if (!target.expr?.trim()) {
            problems.push(`${what} has no expr`);
            continue;
          }
          for (const range of rangeSelectors(target.expr)) {
            if (range !== '$__rate_interval') problems.push(`${what} range [${range}] instead of [$__rate_interval]`);
          }
        }
      }
      expect(problems).toEqual([]);
    },
  );

  it('order-mail-service has the uid the README and links rely on', () => {
    expect(loadDashboard('order-mail-service.json').uid).toBe('order-mail-service');
  });

  it('every provisioning YAML file parses, and the datasource and dashboard provider are the expected ones', () => {
    const files = yamlFiles(PROVISIONING_DIR);
    expect(files.length).toBeGreaterThanOrEqual(2);
    const parsed = Object.fromEntries(
      files.map((f) => [f.slice(PROVISIONING_DIR.length + 1), loadYaml(readFileSync(f, 'utf8'))]),
    );
    expect(parsed['datasources/prometheus.yml']).toMatchObject({
      apiVersion: 1,
      datasources: [
        { name: 'Prometheus', uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090', isDefault: true },
      ],
    });
    expect(parsed['dashboards/provider.yml']).toMatchObject({
      apiVersion: 1,
      providers: [{ type: 'file', folder: 'order-mail', options: { path: '/var/lib/grafana/dashboards' } }],
    });
  });
});

describe('Grafana dashboards (live: every panel query against a real Prometheus scraping the stack)', () => {
  let smtp: SmtpCatcher | undefined;
  let stack: TestStack | undefined;
  let prometheus: TestPrometheus | undefined;
  // The dashboards find the retry, hold and dead-letter queues by the work queue's name.
  const workQueue = uniqueName('mailer.order.confirmed');
  const env = { MAILER_QUEUE: workQueue, DEAD_LETTER_QUEUE: `${workQueue}.dead`, LOG_LEVEL: 'silent' };

  afterAll(async () => {
    await prometheus?.stop();
    await stack?.dispose();
    await smtp?.close();
  });

  it('after accepted, retried, dead-lettered and invalid orders, every target of every panel returns data', async () => {
    const started = Date.now();
    // Arrange: SMTP catcher, both services, and Prometheus scraping them and RabbitMQ every second
    smtp = await startSmtpCatcher();
    const running = await startTestStack({ smtpUrl: smtp.url, env });
    stack = running;
    // Prometheus needs the services' ports, known only once they listen.
    prometheus = await startPrometheus({
      targets: [
        { job: 'order-api', address: `127.0.0.1:${running.api.port}` },
        { job: 'mailer', address: `127.0.0.1:${running.mailer.port}` },
        RABBITMQ_DETAILED_TARGET,
      ],
    });
    const { connection, channel } = await connectTestBroker();
    const post = (orderId: string, email = 'ada@example.com') =>
      postJson(running.apiUrl, '/orders', sampleOrder({ orderId, customer: { email, name: 'Ada' } }));

    try {
      // Every target scraped once before any traffic, so the counters' increases show in rate()
      await prometheus.waitForSeries('count(up == 1) == 3');

      // Act: accepted orders, one retried (451 once), one dead-lettered (550 to RCPT TO, which also
      // suppresses the address), one to that suppressed address, invalid requests
      for (const id of ['G-1', 'G-2', 'G-3']) expect((await post(id)).status).toBe(202);
      await smtp.waitForMails(3);

      smtp.behaviour = { rejectWith: { code: 451, message: 'Greylisted, try again later' }, rejectCount: 1 };
      expect((await post('G-retry')).status).toBe(202);
      await smtp.waitForMails(4);

      smtp.behaviour = {
        rejectRecipients: { 'nobody@example.com': { code: 550, message: '5.1.1 No such user here' } },
      };
      expect((await post('G-dead', 'nobody@example.com')).status).toBe(202);
      // The mailer records the dead letter in PostgreSQL and acks it: the table's gauge says 1, the queue 0.
      await prometheus.waitForSeries('max(mailer_dead_letters_waiting{reason="smtp_rejected"}) == 1', 15000);
      await eventually(
        async () => (await channel.checkQueue(`${workQueue}.dead`)).messageCount === 0,
        15000,
        'the 550 recorded and acked from the dead-letter queue',
      );
      smtp.behaviour = {};
      // The address is on the suppression list now: the next order to it is not sent at all.
      expect((await post('G-suppressed', 'nobody@example.com')).status).toBe(202);
      await prometheus.waitForSeries('sum(mailer_emails_total{result="suppressed"}) >= 1', 15000);

      expect((await postJson(running.apiUrl, '/orders', { orderId: '' })).status).toBe(400);
      expect((await postJson(running.apiUrl, '/orders', '{not json')).status).toBe(400);
      for (const id of ['G-4', 'G-5']) expect((await post(id)).status).toBe(202);
      await smtp.waitForMails(6);
      // ...and scraped again after all of it
      await prometheus.waitForSeries('sum(mailer_emails_total{result="sent"}) >= 6');
      await prometheus.waitForSeries('sum(mailer_dead_letters_total{reason="smtp_rejected"}) >= 1');
      // The relay publishes the delivery events from the outbox shortly after each ledger change.
      await prometheus.waitForSeries('sum(mailer_mail_events_published_total{type="email.sent"}) >= 6', 15000);
      await prometheus.waitForSeries('sum(mailer_mail_events_published_total{type="email.suppressed"}) >= 1', 15000);
      // RabbitMQ refreshes its queue statistics every few seconds (collect_statistics_interval, 5 s by default)
      await prometheus.waitForSeries(`sum(rabbitmq_detailed_queue_messages{queue="${workQueue}.dead"}) == 0`, 20000);
      console.log(`traffic driven and scraped ${Date.now() - started} ms after start`);

      // Assert: every target of every panel returns data (retried until each series has a few scrapes)
      const targets = dashboardFiles().flatMap((file) =>
        allPanels(loadDashboard(file)).flatMap((panel) =>
          (panel.targets ?? []).map((t) => ({
            name: `${file} › "${panel.title}" › ${t.refId}`,
            expr: substitute(t.expr ?? '', workQueue),
          })),
        ),
      );
      const unsubstituted = targets.filter((t) => /\$\{?\w/.test(t.expr)).map((t) => `${t.name}: ${t.expr}`);
      expect(unsubstituted).toEqual([]);

      const failures = new Map<string, string>();
      const results = new Map<string, PromSample[]>();
      const deadline = Date.now() + 20000;
      let pending = targets;
      while (pending.length > 0) {
        failures.clear();
        for (const t of pending) {
          const answer = await prometheus.query(t.expr);
          if (answer.status !== 'success') failures.set(t.name, `${answer.errorType}: ${answer.error} in ${t.expr}`);
          else if (!answer.data?.result.length) failures.set(t.name, `no data from ${t.expr}`);
          else results.set(t.name, answer.data.result);
        }
        pending = targets.filter((t) => failures.has(t.name));
        if (pending.length === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const show = (samples: PromSample[] | undefined) =>
        samples?.map((s) => `${JSON.stringify(s.metric)} ${s.value[1]}`).join(', ') ?? 'NO DATA';
      console.log(
        `panel queries ($__rate_interval=${RATE_INTERVAL}), ${Date.now() - started} ms after start:\n` +
          targets.map((t) => `  ${t.name} = ${show(results.get(t.name))}`).join('\n'),
      );
      expect([...failures].map(([name, why]) => `${name}: ${why}`)).toEqual([]);

      // The panels show the traffic just driven (values of one target, optionally one labelled series)
      const value = (panel: string, refId: string, labels: Record<string, string> = {}) => {
        const name = `order-mail-service.json › "${panel}" › ${refId}`;
        const sample = results.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v));
        return { name, labels, value: sample ? Number(sample.value[1]) : undefined };
      };
      const positive = [
        value('Orders accepted /s', 'A'),
        value('Emails sent /s', 'A'),
        value('Emails /s by result', 'A', { result: 'sent' }),
        value('Emails /s by result', 'A', { result: 'retried' }),
        value('Emails /s by result', 'A', { result: 'dead_lettered' }),
        value('Retries /s by failure class', 'A', { failure_class: 'transient' }),
        value('Dead letters /s by reason', 'A', { reason: 'smtp_rejected' }),
        value('Publish results /s', 'A', { result: 'confirmed' }),
        value('Error ratios', 'B'),
        value('Error ratios', 'C'),
        value('End-to-end latency', 'A'),
        value('End-to-end latency', 'C'),
        value('SMTP send latency', 'C'),
        value('Publish confirm latency', 'C'),
        value('End-to-end p95', 'A'),
        value('Oldest waiting dead letter', 'A'),
        value('Suppressed sends', 'A'),
      ];
      expect(positive.filter((v) => !(v.value !== undefined && v.value > 0 && Number.isFinite(v.value)))).toEqual([]);
      // Delivery events by type, whether or not a queue was bound to take them (routed true or false)
      const eventsOf = (type: string) => {
        const samples = results.get('order-mail-service.json › "Delivery events published /s" › A') ?? [];
        return {
          type,
          rate: samples.filter((s) => s.metric.type === type).reduce((sum, s) => sum + Number(s.value[1]), 0),
        };
      };
      const events = ['email.sent', 'email.retrying', 'email.dead_lettered', 'email.suppressed'].map(eventsOf);
      expect(events.filter((e) => !(e.rate > 0))).toEqual([]);
      expect(value('Outbox lag', 'A').value).toBeGreaterThanOrEqual(0);
      expect(value('Outbox lag', 'B').value).toBeGreaterThanOrEqual(0);
      expect(value('Dead letters waiting', 'A').value).toBe(1);
      expect(value('Dead letters waiting by reason', 'A', { reason: 'smtp_rejected' }).value).toBe(1);
      expect(value('Dead letters waiting by reason', 'A', { reason: 'invalid_event' }).value).toBe(0);
      expect(value('Replay jobs by outcome', 'A', { outcome: 'succeeded' }).value).toBe(0);
      expect(value('Queue depth', 'E').value).toBe(0);
      expect(value('Consumers on the work queue', 'A').value).toBe(1);
      expect(value('Order API 5xx ratio', 'A').value).toBe(0);
    } finally {
      await connection.close();
    }
  }, 60000);
});
