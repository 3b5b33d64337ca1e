import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import pino from 'pino';
import { ORDER_CONFIRMED_EVENT_TYPE } from '@order-mail/shared/contract';
import { createMetricsRegistry } from '@order-mail/shared/metrics';
import { DATABASE_URL, dropSchema } from '@test/helpers/database';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startSmtpFaultProxy, type SmtpFaultProxy } from '@test/helpers/smtp-fault-proxy';
import { uniqueStackNames } from '@test/helpers/stack';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeliveryLedger, type PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';
import { createMailerMetrics } from '../../src/adapters/metrics/mailer-metrics';
import { createSmtpTransport, type SmtpTransport } from '../../src/adapters/smtp/smtp-transport';
import { compileTemplates } from '../../src/adapters/templates/template-renderer';
import type { DeliveryOutcome, MessageHistory } from '../../src/domain/delivery-outcome';
import { createMailWorker, type MailWorker } from '../../src/domain/mail-worker';
import type { TemplateRenderer } from '../../src/domain/ports';
import { englishLocalizer, SHOP } from '../unit/fakes/worker-ports';

interface Setup {
  sink: SmtpCatcher;
  proxy: SmtpFaultProxy;
  /** The real templates, or a real renderer over a folder without the order template. */
  templates: 'real' | 'missing';
}

interface DeadLetterCase {
  reason: string;
  /** Makes the SMTP server (or the templates) fail the way that leads to this reason. */
  arrange(setup: Setup): void;
  templates?: Setup['templates'];
  /** Retry delays: how many transient failures the message may have before it is dead-lettered. */
  retryDelays: number;
  /** Send attempts the ledger records by then. */
  attempts: number;
}

const cases: DeadLetterCase[] = [
  {
    reason: 'smtp_rejected',
    arrange: ({ sink }) => (sink.behaviour = { rejectWith: { code: 550, message: 'No such user here' } }),
    retryDelays: 3,
    attempts: 1,
  },
  {
    reason: 'retries_exhausted',
    arrange: ({ sink }) => (sink.behaviour = { rejectWith: { code: 451, message: 'Greylisted' } }),
    retryDelays: 2,
    attempts: 3,
  },
  {
    reason: 'outcome_unknown',
    arrange: ({ proxy }) => (proxy.fault = { at: 'final-dot', action: 'drop' }),
    retryDelays: 3,
    attempts: 2,
  },
  { reason: 'unknown_template', arrange: () => undefined, templates: 'missing', retryDelays: 3, attempts: 1 },
];

const eventFor = (orderId: string) => sampleEvent({ order: sampleOrder({ orderId }), correlationId: `dla-${orderId}` });

/**
 * Hands the event to the worker again and again, as the retry and hold queues would, carrying
 * the counts a retry copy puts in its headers, until it is dead-lettered.
 */
async function untilDeadLettered(worker: MailWorker, event: ReturnType<typeof eventFor>) {
  let history: MessageHistory = {
    sendFailures: 0,
    internalErrors: 0,
    ledgerAttempts: 0,
    replayed: false,
    suppressionOverride: false,
  };
  for (let round = 0; round < 10; round += 1) {
    const outcome: DeliveryOutcome = await worker.process(event, history);
    if (outcome.action === 'dead-letter') return outcome;
    if (outcome.action === 'retry') history = { ...history, ...outcome.counts };
    else if (outcome.action !== 'hold') throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
  }
  throw new Error('not dead-lettered after 10 rounds');
}

describe('the attempt count of a dead letter (mail worker, real SMTP server, PostgreSQL ledger)', () => {
  const { schema } = uniqueStackNames();
  const logger = pino({ level: 'silent' });
  const metrics = createMailerMetrics(createMetricsRegistry('mailer'), { retryAttempts: 3 });
  const localizer = englishLocalizer();
  let pool: Pool;
  let ledger: PgDeliveryLedger;
  let realTemplates: TemplateRenderer;
  let missingTemplates: TemplateRenderer;
  let otherDir: string;

  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await migrate(pool, schema, logger);
    ledger = createPgDeliveryLedger(pool);
    realTemplates = await compileTemplates();
    // A real renderer whose folder has a template, only not the one the worker asks for.
    otherDir = await mkdtemp(path.join(tmpdir(), 'other-templates-'));
    await writeFile(
      path.join(otherDir, 'other.mjml'),
      '<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>',
    );
    await writeFile(path.join(otherDir, 'other.txt'), 'Hi');
    missingTemplates = await compileTemplates(otherDir);
  });

  afterAll(async () => {
    await pool.end();
    await dropSchema(schema);
    await rm(otherDir, { recursive: true, force: true });
  });

  it.each(cases)(
    'when a message is dead-lettered as $reason, then its attempt count (x-attempts) is the ledger’s $attempts attempt(s)',
    async ({ reason, arrange, templates = 'real', retryDelays, attempts }) => {
      // Arrange
      const sink = await startSmtpCatcher();
      const proxy = await startSmtpFaultProxy({ port: sink.port });
      const transport: SmtpTransport = createSmtpTransport({
        url: proxy.url(),
        maxConnections: 1,
        connectionTimeoutMs: 1000,
        greetingTimeoutMs: 1000,
        socketTimeoutMs: 1000,
        sendTimeoutMs: 5000,
      });
      const worker = createMailWorker({
        transport,
        templates: templates === 'real' ? realTemplates : missingTemplates,
        ledger,
        metrics,
        logger,
        // A grace period of 1 ms: a held message is looked at again at once.
        schedule: { delaysMs: Array<number>(retryDelays).fill(1), unknownOutcomeGraceMs: 1 },
        workerId: 'dla',
        mailFrom: 'Test Shop <orders@shop.example>',
        email: { messageIdDomain: 'shop.example', shop: SHOP, localizer },
      });
      arrange({ sink, proxy, templates });
      const orderId = `DLA-${randomUUID().slice(0, 8)}`;
      try {
        // Act
        const dead = await untilDeadLettered(worker, eventFor(orderId));

        // Assert
        const found = await ledger.find(ORDER_CONFIRMED_EVENT_TYPE, orderId);
        expect(dead.reason).toBe(reason);
        expect(found?.delivery.status).toBe('dead');
        expect(found?.delivery.attempts).toBe(attempts);
        expect(dead.counts.ledgerAttempts).toBe(found?.delivery.attempts);
        expect(found?.attempts).toHaveLength(attempts);
      } finally {
        transport.close();
        await proxy.close();
        await sink.close();
      }
    },
  );
});
