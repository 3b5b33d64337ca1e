import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as amqp from 'amqplib';
import { loadMailerConfig } from '../../services/mailer/src/config';
import { startMailer, type RunningMailer } from '../../services/mailer/src/service';
import { loadOrderApiConfig } from '../../services/order-api/src/config';
import { startOrderApi, type RunningOrderApi } from '../../services/order-api/src/service';
import { eventually } from '@test/helpers/broker';
import { dropSchema, query } from '@test/helpers/database';
import { deadLetterRows, subjectOf } from '@test/helpers/inspect';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { postJson, sampleOrder, TEST_API_KEY_ENV } from '@test/helpers/orders';
import { startPrivateCluster, type PrivateCluster } from '@test/helpers/private-broker';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { mailerEnv, mailerQueueNamesFor, uniqueStackNames } from '@test/helpers/stack';

// Issue #15: a three-node RabbitMQ cluster of the test's own (test/helpers/private-broker.ts),
// the order API and two mailers given its node list in AMQP_URL, a steady stream of orders, and
// the node that leads the work queue stopped (stop_app) mid-stream and started again. Slow (about
// a minute), so not part of `npm test`: `npm run test:cluster` (jest.cluster.config.js).

/** Orders per second, each with an id of its own, for STREAM_MS. */
const RATE_PER_S = 20;
const STREAM_MS = 25_000;
/** When (from the stream's start) the work queue's leader is stopped, and started again. */
const STOP_AT_MS = 8_000;
const RESTART_AT_MS = 16_000;
/** The node stays stopped this long at least after stop_app returns (which takes 5-6 s itself). */
const MIN_DOWN_MS = 3_000;
/** Each SMTP answer is held this long, so that sends are in flight (unacked) when the node goes. */
const SMTP_DELAY_MS = 100;
/** A POST without an answer after this long counts as one (status 0). */
const POST_TIMEOUT_MS = 15_000;
/** Every accepted order emailed and every queue empty, after the stream ended, within this long. */
const DRAIN_LIMIT_MS = 90_000;
const SAMPLE_EVERY_MS = 250;
/** Info level: the broker's connection events, which the printed figures and the log file show. */
const LOG_LEVEL = 'info';
const LOG_DIR = path.join(__dirname, '..', '..', 'test-artifacts', 'broker-cluster');

interface PostResult {
  orderId: string;
  /** HTTP status; 0 when the request failed or timed out. */
  status: number;
  body: string;
  sentAt: number;
  answeredAt: number;
}

/** Every SAMPLE_EVERY_MS during the run: the backlog (accepted orders without an email yet) and who was ready. */
interface Sample {
  at: number;
  backlog: number;
  apiReady: boolean;
  mailersReady: boolean[];
}

type Who = 'order-api' | 'mailer-a' | 'mailer-b';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (at: number) => sleep(Math.max(0, at - Date.now()));
const orderIdOf = (subject: string | undefined) => /^Your order (\S+) is confirmed$/.exec(subject ?? '')?.[1];

describe('a three-node RabbitMQ cluster', () => {
  const names = uniqueStackNames();
  const queues = mailerQueueNamesFor(names);
  const run = randomBytes(3).toString('hex');
  const logs: { who: Who; line: LogLine }[] = [];
  const logger = (who: Who) => capturingLogger({ push: (line) => logs.push({ who, line }) }, { level: LOG_LEVEL });
  let cluster: PrivateCluster | undefined;
  let smtp: SmtpCatcher | undefined;
  const mailers: RunningMailer[] = [];
  let api: RunningOrderApi | undefined;
  /** Set by afterAll: a stream still running (the test timed out) stops posting. */
  let ending = false;
  let clusterStartMs = Number.NaN;

  beforeAll(async () => {
    const began = Date.now();
    const started = await startPrivateCluster(3);
    cluster = started;
    clusterStartMs = Date.now() - began;
    const catcher = await startSmtpCatcher();
    smtp = catcher;
    const env = (workerId: string) =>
      loadMailerConfig(
        mailerEnv(names, catcher.url, { AMQP_URL: started.amqpUrlList, LOG_LEVEL, WORKER_ID: `${workerId}-${run}` }),
      );
    // The mailers first: they declare and bind the queue the API's mandatory publishes must reach.
    mailers.push(await startMailer(env('cluster-mailer-a'), logger('mailer-a')));
    mailers.push(await startMailer(env('cluster-mailer-b'), logger('mailer-b')));
    const orderApi = await startOrderApi(
      loadOrderApiConfig({
        PORT: '0',
        AMQP_URL: started.amqpUrlList,
        ORDERS_EXCHANGE: names.exchange,
        LOG_LEVEL,
        PUBLISH_CONFIRM_TIMEOUT_MS: '2000',
        ORDER_API_RATE_LIMIT: '100000',
        ...TEST_API_KEY_ENV,
      }),
      logger('order-api'),
    );
    api = orderApi;
    await eventually(() => [orderApi, ...mailers].every((s) => s.isReady()), 30_000, 'the API and both mailers ready');
  }, 150_000);

  // Services first (the API, then the mailers, which finish their sends), then the ledger schema,
  // then the cluster (its queues and exchanges go with it: nothing to delete on the shared broker),
  // the SMTP server last. Every step runs even when an earlier one (or the test) failed.
  afterAll(async () => {
    ending = true;
    const failures: unknown[] = [];
    const attempt = async (work: () => Promise<unknown> | undefined) => {
      try {
        await work();
      } catch (err) {
        failures.push(err);
      }
    };
    await attempt(() => api?.stop());
    for (const mailer of mailers) await attempt(() => mailer.stop());
    await attempt(() => dropSchema(names.schema));
    await attempt(() => cluster?.shutdown());
    await attempt(() => smtp?.close());
    await attempt(async () => {
      await mkdir(LOG_DIR, { recursive: true });
      const text = logs.map(({ who, line }) => JSON.stringify({ who, ...line })).join('\n');
      await writeFile(path.join(LOG_DIR, `${run}.jsonl`), `${text}\n`);
    });
    if (failures.length > 0) throw new AggregateError(failures, 'cleanup failed');
  }, 150_000);

  /** Messages (ready and unacked) in every mailer queue, counted through a node that runs. */
  async function messagesInQueues(c: PrivateCluster): Promise<number> {
    const node = c.nodes.find((_, i) => c.isRunning(i));
    if (!node) throw new Error('no node of the cluster runs');
    const connection = await amqp.connect(node.url);
    connection.on('error', () => undefined);
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      let total = 0;
      for (const queue of queues) {
        const q = await channel.checkQueue(queue);
        total += q.messageCount;
      }
      return total;
    } finally {
      await connection.close();
    }
  }

  it('when the node leading the work queue stops mid-stream and comes back, then every accepted order is emailed exactly once and nothing is dead-lettered', async () => {
    if (!cluster || !smtp || !api || mailers.length !== 2) throw new Error('the stack did not start');
    const [c, catcher, runningApi] = [cluster, smtp, api];
    const apiUrl = `http://127.0.0.1:${runningApi.port}`;
    const results: PostResult[] = [];
    const samples: Sample[] = [];
    const acceptedIds = new Set<string>();
    const emailedAt = new Map<string, number>();
    let mailsSeen = 0;
    const noteMails = () => {
      for (; mailsSeen < catcher.mails.length; mailsSeen += 1) {
        const id = orderIdOf(catcher.mails[mailsSeen].subject);
        if (id !== undefined && !emailedAt.has(id)) emailedAt.set(id, Date.now());
      }
    };
    catcher.behaviour = { delayMs: SMTP_DELAY_MS };

    // Arrange: a steady stream of orders (one every 1000/RATE_PER_S ms, not waiting for answers)
    const postOne = async (orderId: string) => {
      const sentAt = Date.now();
      const order = sampleOrder({
        orderId,
        customer: { email: `${orderId.toLowerCase()}@example.com`, name: orderId, locale: 'en' },
      });
      let status = 0;
      let body = '';
      let timer: NodeJS.Timeout | undefined;
      try {
        const response = await Promise.race([
          postJson(apiUrl, '/orders', order),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${POST_TIMEOUT_MS} ms`)), POST_TIMEOUT_MS);
          }),
        ]);
        status = response.status;
        body = await response.text();
      } catch (err) {
        body = (err as Error).message;
      } finally {
        clearTimeout(timer);
      }
      if (status === 202) acceptedIds.add(orderId);
      results.push({ orderId, status, body, sentAt, answeredAt: Date.now() });
    };
    const t0 = Date.now();
    const posts: Promise<void>[] = [];
    const stream = (async () => {
      for (let k = 0; Date.now() - t0 < STREAM_MS && !ending; k += 1) {
        await sleepUntil(t0 + (k * 1000) / RATE_PER_S);
        posts.push(postOne(`CL-${run}-${k}`));
      }
      await Promise.all(posts);
    })();
    const sampler = setInterval(() => {
      noteMails();
      let backlog = 0;
      for (const id of acceptedIds) if (!emailedAt.has(id)) backlog += 1;
      samples.push({
        at: Date.now(),
        backlog,
        apiReady: runningApi.isReady(),
        mailersReady: mailers.map((m) => m.isReady()),
      });
    }, SAMPLE_EVERY_MS);

    let leaderBefore = -1;
    let leaderDuring = -1;
    let stopAt = Number.NaN;
    let stopReturnedAt = Number.NaN;
    let restartAt = Number.NaN;
    let restartedAt = Number.NaN;
    let streamEndedAt = Number.NaN;
    let drainedAt = Number.NaN;
    try {
      // Act: stop the node that leads the work queue, later start it again, while orders flow
      await sleepUntil(t0 + STOP_AT_MS);
      leaderBefore = await c.queueLeader(names.queue);
      stopAt = Date.now();
      await c.stopNode(leaderBefore);
      stopReturnedAt = Date.now();
      leaderDuring = await c.queueLeader(names.queue, { not: leaderBefore, timeoutMs: 20_000 });
      await sleepUntil(Math.max(t0 + RESTART_AT_MS, stopReturnedAt + MIN_DOWN_MS));
      restartAt = Date.now();
      await c.startNode(leaderBefore);
      restartedAt = Date.now();
      await stream;
      streamEndedAt = Date.now();

      // Every accepted order has its email and every queue is empty, twice in a row a second apart
      // (a late duplicate, a redelivery or a held resend, would show up).
      const settled = async () => {
        noteMails();
        return [...acceptedIds].every((id) => emailedAt.has(id)) && (await messagesInQueues(c)) === 0;
      };
      await eventually(
        async () => {
          if (!(await settled())) return false;
          const at = Date.now();
          await sleep(1000);
          if (!(await settled())) return false;
          drainedAt = at;
          return true;
        },
        DRAIN_LIMIT_MS,
        `an email for each of the ${acceptedIds.size} accepted orders and empty queues`,
      );
    } finally {
      ending = true;
      clearInterval(sampler);
      await stream.catch(() => undefined);
    }
    const leaderAfter = await c.queueLeader(names.queue);
    // The restarted node's replica is back online (statistics lag up to a second).
    let workQueue = await c.queueInfo(names.queue);
    await eventually(
      async () => {
        workQueue = await c.queueInfo(names.queue);
        return workQueue.online.length === 3;
      },
      20_000,
      'all three replicas of the work queue online',
    ).catch(() => undefined);
    const queueInfos = await Promise.all(queues.map((q) => c.queueInfo(q)));

    // Figures, in one block
    const rel = (at: number, from: number) => (Number.isFinite(at) ? `${at - from} ms` : 'n/a');
    const accepted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status !== 202);
    const firstRefused = refused.length > 0 ? Math.min(...refused.map((r) => r.sentAt)) : Number.NaN;
    const lastRefused = refused.length > 0 ? Math.max(...refused.map((r) => r.answeredAt)) : Number.NaN;
    // From stop_app's return (its clients are cut about a second after it begins) to start_app.
    const acceptedWhileDown = accepted.filter((r) => r.sentAt >= stopReturnedAt && r.answeredAt <= restartAt);
    const mailedWhileDown = [...emailedAt.values()].filter((at) => at >= stopReturnedAt && at <= restartAt).length;
    const drain = backlogDrain(samples, stopAt);
    const counts = new Map<string, number>();
    for (const mail of catcher.mails) counts.set(mail.subject ?? '', (counts.get(mail.subject ?? '') ?? 0) + 1);
    const refusedButMailed = refused.filter((r) => counts.has(subjectOf(r.orderId)));
    const nodeName = (i: number) => (i >= 0 ? `node ${i} (${c.nodes[i].name})` : 'n/a');
    const readyz = await Promise.all(
      [runningApi, ...mailers].map(async (s) => {
        const body = (await (await fetch(`http://127.0.0.1:${s.port}/readyz`)).json()) as {
          checks?: Record<string, string>;
        };
        return body.checks?.brokerNode ?? '?';
      }),
    );
    const notReady = (pick: (s: Sample) => boolean) => unreadyWindows(samples, pick, stopAt);
    const logged = (msg: string) => logs.filter(({ line }) => line.msg.startsWith(msg)).length;
    const brokerEvents = logs.filter(({ line }) => /^broker (connected|connection lost|not reachable)/.test(line.msg));
    console.log(
      [
        `broker cluster: 3 nodes started in ${clusterStartMs} ms ` +
          `(nodes ${c.startup.nodesMs} ms in parallel, joins ${c.startup.joinsMs} ms)`,
        `  orders: ${results.length} sent at ${RATE_PER_S}/s over ${STREAM_MS / 1000} s, ${accepted.length} accepted (202), ` +
          `${refused.length} refused ${JSON.stringify(countBy(refused.map((r) => `${r.status} ${problemType(r.body)}`)))}`,
        `  work queue led by ${nodeName(leaderBefore)} before, ${nodeName(leaderDuring)} while it was down, ` +
          `${nodeName(leaderAfter)} after; members ${workQueue.members.length} (${workQueue.type}), online ${workQueue.online.length}`,
        `  stop_app at +${stopAt - t0} ms (returned after ${stopReturnedAt - stopAt} ms), ` +
          `start_app at +${restartAt - t0} ms (node back in the cluster after ${restartedAt - restartAt} ms)`,
        refused.length > 0
          ? `  refused window: ${rel(firstRefused, stopAt)} .. ${rel(lastRefused, stopAt)} from the stop ` +
            `(${lastRefused - firstRefused} ms)`
          : '  refused window: none (no order refused)',
        `  while the node was down (stop_app returned .. start_app, ${restartAt - stopReturnedAt} ms): ` +
          `${acceptedWhileDown.length} orders accepted, ${mailedWhileDown} emails sent`,
        `  not ready (from the stop): API ${notReady((s) => s.apiReady)}; ` +
          mailers.map((_, i) => `mailer ${'ab'[i]} ${notReady((s) => s.mailersReady[i])}`).join('; '),
        `  backlog (accepted, not yet emailed): ${drain.steady} at most before the stop, peak ${drain.peak} ` +
          `at ${rel(drain.peakAt, stopAt)} from the stop; back to that ${rel(drain.drainedAt, stopAt)} from the stop ` +
          (drain.drainedAt < restartAt
            ? '(before the restart)'
            : `(${rel(drain.drainedAt, restartAt)} from the restart)`),
        `  everything emailed and every queue empty ${rel(drainedAt, streamEndedAt)} after the stream ended ` +
          `(${rel(drainedAt, stopAt)} from the stop, ${rel(drainedAt, restartedAt)} after the node was back)`,
        `  emails: ${catcher.mails.length}; refused orders emailed anyway: ${refusedButMailed.length}; ` +
          `sends cut by the lost channel (redelivered): ${logged('channel closed before the message was settled')}, ` +
          `redeliveries acked as already sent: ${logged('already sent, acking without sending')}; ` +
          `connected at the end (API, mailer a, mailer b): ${readyz.join(', ')}`,
        `  broker connection events: ` +
          brokerEvents
            .map(({ who, line }) => `${who} ${rel(Number(line.time), stopAt)} ${line.msg} ${String(line.node ?? '')}`)
            .join(' | '),
        `  service logs: ${path.join(LOG_DIR, `${run}.jsonl`)}`,
      ].join('\n'),
    );

    // Assert: every answer is an acceptance or a refusal (503), none lost (no answer) or a server error
    expect(results.filter((r) => r.status !== 202 && r.status !== 503)).toEqual([]);

    // Assert: the stream crossed the fault, and the API and mailers went on through it via the other nodes
    expect(accepted.filter((r) => r.answeredAt < stopAt).length).toBeGreaterThan(0);
    expect(acceptedWhileDown.length).toBeGreaterThan(0);
    expect(mailedWhileDown).toBeGreaterThan(0);
    expect(accepted.filter((r) => r.sentAt > restartedAt).length).toBeGreaterThan(0);

    // Assert: exactly one email per accepted order, and never two for any order
    expect([...acceptedIds].filter((id) => counts.get(subjectOf(id)) !== 1)).toEqual([]);
    expect([...counts].filter(([, n]) => n > 1).map(([subject]) => subject)).toEqual([]);
    const postedSubjects = new Set(results.map((r) => subjectOf(r.orderId)));
    expect([...counts.keys()].filter((s) => !postedSubjects.has(s))).toEqual([]);

    // Assert: the ledger says sent for every accepted order (and every order it knows)
    const rows = await query<{ order_id: string; status: string }>(
      `SELECT order_id, status FROM "${names.schema}".deliveries`,
    );
    const statusOf = new Map(rows.map((r) => [r.order_id, r.status]));
    expect([...acceptedIds].filter((id) => statusOf.get(id) !== 'sent')).toEqual([]);
    expect(rows.filter((r) => r.status !== 'sent')).toEqual([]);

    // Assert: nothing dead-lettered (the recorder moves dead letters into the table: both are empty)
    expect(await deadLetterRows(names.schema)).toEqual([]);
    expect(await messagesInQueues(c)).toBe(0);

    // Assert: every mailer queue is a quorum queue replicated on the three nodes
    const nodeNames = c.nodes.map((n) => n.name).sort();
    expect(queueInfos.map((q, i) => ({ queue: queues[i], type: q.type, members: [...q.members].sort() }))).toEqual(
      queues.map((queue) => ({ queue, type: 'quorum', members: nodeNames })),
    );
    expect([...workQueue.online].sort()).toEqual(nodeNames);
    expect(leaderDuring).not.toBe(leaderBefore);
  }, 240_000);
});

/**
 * How the backlog (accepted orders without an email yet) went after the stop: `steady` is its
 * highest level in the 3 s before the stop (the usual work in progress, sends under way);
 * `peak` its highest after; `drainedAt` the first sample after the peak at or under `steady`
 * (NaN when it never came back down, the peak's time when it never rose above `steady`).
 */
function backlogDrain(samples: Sample[], stopAt: number) {
  const before = samples.filter((s) => s.at >= stopAt - 3000 && s.at < stopAt);
  const steady = Math.max(1, ...before.map((s) => s.backlog));
  const after = samples.filter((s) => s.at >= stopAt);
  const peakSample = after.reduce<Sample | undefined>(
    (p, s) => (p === undefined || s.backlog > p.backlog ? s : p),
    undefined,
  );
  const peak = peakSample?.backlog ?? 0;
  const peakAt = peakSample?.at ?? Number.NaN;
  const drained = peak <= steady ? peakSample : after.find((s) => s.at > peakAt && s.backlog <= steady);
  return { steady, peak, peakAt, drainedAt: drained?.at ?? Number.NaN };
}

/** The windows (relative to `from`) in which `ready` was false, e.g. `+120..+3870 ms`; `always ready` when none. */
function unreadyWindows(samples: Sample[], ready: (s: Sample) => boolean, from: number): string {
  const windows: string[] = [];
  let start: number | undefined;
  let last = from;
  for (const s of samples) {
    if (!ready(s) && start === undefined) start = s.at;
    if (ready(s) && start !== undefined) {
      windows.push(`${start - from}..${s.at - from} ms`);
      start = undefined;
    }
    last = s.at;
  }
  if (start !== undefined) windows.push(`${start - from}..(still at ${last - from}) ms`);
  return windows.length > 0 ? windows.join(', ') : 'always ready';
}

/** The `type` of a problem+json body, or the body itself (cut) when it is not one. */
function problemType(body: string): string {
  try {
    return String((JSON.parse(body) as { type?: unknown }).type);
  } catch {
    return body.slice(0, 120);
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
