import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pool } from 'pg';
import pino from 'pino';
import { ORDER_CONFIRMED_EVENT_TYPE } from '@order-mail/shared/contract';
import { createMetricsRegistry } from '@order-mail/shared/metrics';
import { DATABASE_URL, dropSchema } from '@test/helpers/database';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import { closedPort } from '@test/helpers/ports';
import { startSmtpCatcher, type SmtpCatcher } from '@test/helpers/smtp-catcher';
import { startSmtpFaultProxy, type SmtpFault, type SmtpFaultProxy } from '@test/helpers/smtp-fault-proxy';
import { uniqueStackNames } from '@test/helpers/stack';
import { migrate } from '../../src/adapters/db/database';
import { createPgDeliveryLedger, type PgDeliveryLedger } from '../../src/adapters/db/delivery-ledger-pg';
import { createMailerMetrics } from '../../src/adapters/metrics/mailer-metrics';
import { createSmtpTransport, type SmtpTransport } from '../../src/adapters/smtp/smtp-transport';
import { compileTemplates } from '../../src/adapters/templates/template-renderer';
import type { FailureClass } from '../../src/domain/classify-failure';
import type { DeliveryStatus } from '../../src/domain/delivery-ledger';
import type { DeliveryOutcome, MessageHistory } from '../../src/domain/delivery-outcome';
import { createMailWorker } from '../../src/domain/mail-worker';
import type { TemplateRenderer } from '../../src/domain/ports';
import { englishLocalizer, SHOP } from '../unit/fakes/worker-ports';

/**
 * Timeouts of a row: `socket` lets the socket (and greeting) timeout end a stalled session,
 * `deadline` lets the send deadline (SMTP_SEND_TIMEOUT_MS, an abort) end it first.
 */
const TIMEOUTS = {
  socket: { connectionTimeoutMs: 1000, greetingTimeoutMs: 300, socketTimeoutMs: 300, sendTimeoutMs: 20_000 },
  deadline: { connectionTimeoutMs: 1000, greetingTimeoutMs: 20_000, socketTimeoutMs: 20_000, sendTimeoutMs: 500 },
};

const CREDENTIALS = { user: 'mailer', pass: 'secret' };

/**
 * A size of email content that cannot fit in the socket buffers between the mailer and the
 * proxy, so a session cut at its first chunk of content is cut before the mailer could have
 * written the final dot. The proxy reads nothing after that chunk, so the receive side holds at
 * most its initial buffer (Linux grows it only for a reader: tcp_rmem[1]); the send side at most
 * tcp_wmem[2].
 */
function contentBeyondSocketBuffers(): number {
  try {
    const field = (file: string, i: number) => Number(readFileSync(file, 'utf8').trim().split(/\s+/)[i]);
    const bytes = field('/proc/sys/net/ipv4/tcp_wmem', 2) + 2 * field('/proc/sys/net/ipv4/tcp_rmem', 1);
    if (Number.isFinite(bytes) && bytes > 0) return bytes + 1024 * 1024;
  } catch {
    // Not Linux: fall through to a size well above common defaults.
  }
  return 8 * 1024 * 1024;
}

/** The real templates, with a long HTML comment appended: a large email. */
function withFiller(templates: TemplateRenderer, bytes: number): TemplateRenderer {
  const line = `<!--${'x'.repeat(66)}-->\n`;
  const filler = line.repeat(Math.ceil(bytes / line.length));
  return {
    render(template, model) {
      const rendered = templates.render(template, model);
      return { ...rendered, html: rendered.html + filler };
    },
  };
}

const eventFor = (orderId: string) =>
  sampleEvent({ order: sampleOrder({ orderId }), correlationId: `stages-${orderId}` });

/** A message seen for the first time: no failures, no copies, not replayed. */
const FIRST_DELIVERY: MessageHistory = {
  sendFailures: 0,
  internalErrors: 0,
  ledgerAttempts: 0,
  replayed: false,
  suppressionOverride: false,
};

/** `sent` for an email the server accepted, else the class the failure was given. */
function resultOf(outcome: DeliveryOutcome): 'sent' | FailureClass {
  if (outcome.action === 'ack') return 'sent';
  const failureClass = outcome.failure?.failureClass;
  if (!failureClass || ['invalid', 'render_failed', 'internal'].includes(failureClass)) {
    throw new Error(`not a send outcome: ${JSON.stringify(outcome)}`);
  }
  return failureClass as FailureClass;
}

interface StageCase {
  name: string;
  /**
   * The fault: one the proxy injects into the session of the order under test; `refused` (no
   * server at all); or, for the pooled connection an earlier order left idle, `idle-closed` (the
   * server closes it with a 421, as at its idle timeout) or `idle-lost` (it vanishes silently,
   * as when a NAT forgets it: the next command is reset).
   */
  fault: SmtpFault | 'refused' | 'idle-closed' | 'idle-lost' | null;
  timeouts?: keyof typeof TIMEOUTS;
  /** The sink offers STARTTLS / AUTH (and the mailer logs in), so that the session has that stage. */
  starttls?: boolean;
  login?: boolean;
  /** An email larger than the socket buffers, so that a cut mid-content comes before the final dot. */
  large?: boolean;
  expected: {
    result: 'sent' | FailureClass;
    ledger: DeliveryStatus;
    /** Emails of the order under test the SMTP server accepted. */
    accepted: number;
  };
}

const transient = { result: 'transient', ledger: 'retrying', accepted: 0 } as const;
const unknown = { result: 'unknown_outcome', ledger: 'sending', accepted: 1 } as const;
const sent = { result: 'sent', ledger: 'sent', accepted: 1 } as const;

const cases: StageCase[] = [
  { name: 'no fault', fault: null, expected: sent },
  { name: 'the connection is refused', fault: 'refused', expected: transient },

  // The connection is dropped, at each stage.
  { name: 'a drop before the greeting', fault: { at: 'greeting', action: 'drop' }, expected: transient },
  { name: 'a drop at EHLO', fault: { at: 'ehlo', action: 'drop' }, expected: transient },
  { name: 'a drop at STARTTLS', fault: { at: 'starttls', action: 'drop' }, starttls: true, expected: transient },
  { name: 'a drop at AUTH', fault: { at: 'auth', action: 'drop' }, login: true, expected: transient },
  { name: 'a drop at MAIL FROM', fault: { at: 'mail', action: 'drop' }, expected: transient },
  { name: 'a drop at RCPT TO', fault: { at: 'rcpt', action: 'drop' }, expected: transient },
  { name: 'a drop at DATA, before the 354', fault: { at: 'data', action: 'drop' }, expected: transient },
  {
    name: 'a drop in the middle of the content',
    fault: { at: 'content', action: 'drop' },
    large: true,
    expected: transient,
  },
  {
    name: 'a drop after the final dot, before the reply',
    fault: { at: 'final-dot', action: 'drop' },
    expected: unknown,
  },

  // The server stops answering, at each stage, until the socket (or greeting) timeout.
  { name: 'no greeting', fault: { at: 'greeting', action: 'hang' }, expected: transient },
  { name: 'no reply to EHLO', fault: { at: 'ehlo', action: 'hang' }, expected: transient },
  { name: 'no reply to STARTTLS', fault: { at: 'starttls', action: 'hang' }, starttls: true, expected: transient },
  { name: 'no reply to AUTH', fault: { at: 'auth', action: 'hang' }, login: true, expected: transient },
  { name: 'no reply to MAIL FROM', fault: { at: 'mail', action: 'hang' }, expected: transient },
  { name: 'no reply to RCPT TO', fault: { at: 'rcpt', action: 'hang' }, expected: transient },
  { name: 'no reply to DATA', fault: { at: 'data', action: 'hang' }, expected: transient },
  {
    name: 'a stall in the middle of the content',
    fault: { at: 'content', action: 'hang' },
    large: true,
    expected: transient,
  },
  { name: 'no reply to the final dot', fault: { at: 'final-dot', action: 'hang' }, expected: unknown },

  // The send deadline (an abort) strikes first.
  {
    name: 'the deadline while waiting for RCPT TO',
    fault: { at: 'rcpt', action: 'hang' },
    timeouts: 'deadline',
    expected: transient,
  },
  {
    name: 'the deadline in the middle of the content',
    fault: { at: 'content', action: 'hang' },
    timeouts: 'deadline',
    large: true,
    expected: transient,
  },
  {
    name: 'the deadline after the final dot',
    fault: { at: 'final-dot', action: 'hang' },
    timeouts: 'deadline',
    expected: unknown,
  },

  // A pooled connection that an earlier email left idle.
  { name: 'a pooled connection the server closed while idle (421)', fault: 'idle-closed', expected: sent },
  { name: 'a pooled connection lost while idle (reset at its next command)', fault: 'idle-lost', expected: transient },
];

/** What the proxy reports for a row's fault, so that a row cannot pass without its fault striking. */
function expectedStrikes(fault: StageCase['fault']): string[] {
  if (fault === null || fault === 'refused') return [];
  if (fault === 'idle-closed') return ['idle:421'];
  if (fault === 'idle-lost') return ['idle:reset'];
  return [`${fault.at}:${fault.action}`];
}

describe('SMTP sessions cut at each stage (mail worker, real SMTP server behind a fault proxy, PostgreSQL ledger)', () => {
  const { schema } = uniqueStackNames();
  const logger = pino({ level: 'silent' });
  let pool: Pool;
  let ledger: PgDeliveryLedger;
  let templates: TemplateRenderer;
  let largeTemplates: TemplateRenderer;
  const metrics = createMailerMetrics(createMetricsRegistry('mailer'), { retryAttempts: 1 });
  const localizer = englishLocalizer();

  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await migrate(pool, schema, logger);
    ledger = createPgDeliveryLedger(pool);
    templates = await compileTemplates();
    largeTemplates = withFiller(templates, contentBeyondSocketBuffers());
  });

  afterAll(async () => {
    await pool.end();
    await dropSchema(schema);
  });

  it.each(cases)(
    'when the session meets $name, then the send is $expected.result, the ledger says $expected.ledger and the server accepted $expected.accepted email(s)',
    async ({ fault, timeouts = 'socket', starttls, login, large, expected }) => {
      // Arrange: a real SMTP server behind the proxy, a mailer worker sending through a pool of one.
      const sink: SmtpCatcher = await startSmtpCatcher({ starttls, auth: login ? CREDENTIALS : undefined });
      const proxy: SmtpFaultProxy = await startSmtpFaultProxy({ port: sink.port });
      const url =
        fault === 'refused' ? `smtp://127.0.0.1:${await closedPort()}` : proxy.url(login ? CREDENTIALS : undefined);
      const transport: SmtpTransport = createSmtpTransport({ url, maxConnections: 1, ...TIMEOUTS[timeouts] });
      const worker = createMailWorker({
        transport,
        templates: large ? largeTemplates : templates,
        ledger,
        metrics,
        logger,
        schedule: { delaysMs: [60_000], unknownOutcomeGraceMs: 600_000 },
        workerId: 'stages',
        mailFrom: 'Test Shop <orders@shop.example>',
        email: { messageIdDomain: 'shop.example', shop: SHOP, localizer },
      });
      const orderId = `STG-${randomUUID().slice(0, 8)}`;
      const acceptedOfOrder = () => sink.mails.filter((m) => m.headers.get('x-order-id') === orderId).length;
      try {
        if (fault === 'idle-closed' || fault === 'idle-lost') {
          const earlier = await worker.process(eventFor(`${orderId}-earlier`), FIRST_DELIVERY);
          expect(earlier).toMatchObject({ action: 'ack', result: 'sent' });
          if (fault === 'idle-closed') await proxy.closeIdle();
          else proxy.dropIdleSilently();
        } else if (fault !== 'refused') {
          proxy.fault = fault;
        }
        const acceptedBefore = sink.mails.length;

        // Act
        const outcome = await worker.process(eventFor(orderId), FIRST_DELIVERY);

        // Assert
        expect(resultOf(outcome)).toBe(expected.result);
        expect(proxy.struck).toEqual(expectedStrikes(fault));
        const found = await ledger.find(ORDER_CONFIRMED_EVENT_TYPE, orderId);
        expect(found?.delivery.status).toBe(expected.ledger);
        expect(found?.attempts.map((a) => a.outcome)).toEqual([expected.result]);
        // The server takes an email cut after its final dot in its own time: wait for it, then
        // close everything before counting, so that a late arrival is counted too.
        if (expected.accepted > 0) await sink.waitForMails(acceptedBefore + expected.accepted);
      } finally {
        transport.close();
        await proxy.close();
        await sink.close();
      }
      expect(acceptedOfOrder()).toBe(expected.accepted);
    },
  );
});
