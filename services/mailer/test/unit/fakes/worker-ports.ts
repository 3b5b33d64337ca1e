/**
 * In-memory fakes of the mail worker's ports, for unit tests that walk its story in milliseconds.
 * The ledger is a small implementation over `decideClaim` (the real state machine) that does what
 * the PostgreSQL adapter does to a row, plus scripted overrides for the races that are awkward
 * to stage (`claimLost`, `alreadySent`); the transport plays a script of replies and failures.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ORDER_CONFIRMED_EVENT_TYPE } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import { capturingLogger, type LogLine } from '@test/helpers/logs';
import { compileCatalogues, DEFAULT_LANGUAGE, LOCALES_DIR } from '../../../src/adapters/i18n/message-catalogues';
import type { SendErrorFacts } from '../../../src/domain/classify-failure';
import {
  decideClaim,
  type ClaimRequest,
  type ClaimResult,
  type DeliveryLedger,
  type DeliveryRecord,
  type FailureRecord,
} from '../../../src/domain/delivery-ledger';
import type { MessageHistory } from '../../../src/domain/delivery-outcome';
import { createMailWorker, type MailWorker, type MailWorkerDeps } from '../../../src/domain/mail-worker';
import {
  SendFailureError,
  type MailTransport,
  type OutgoingMail,
  type RenderedEmail,
  type SendFailure,
  type SendRateLimiter,
  type SendReceipt,
  type TemplateRenderer,
  type WorkerMetrics,
} from '../../../src/domain/ports';
import type { ShopIdentity } from '../../../src/domain/order-email';
import type { Localizer } from '../../../src/domain/ports';
import type { RetrySchedule } from '../../../src/domain/retry-policy';

/** A short schedule: three retries, then the message is dead-lettered. */
export const SCHEDULE: RetrySchedule = { delaysMs: [1_000, 5_000, 30_000], unknownOutcomeGraceMs: 600_000 };
export const MAIL_FROM = 'Shop <orders@shop.example>';
export const MESSAGE_ID_DOMAIN = 'mail.shop.example';
export const WORKER_ID = 'worker-1';
export const SHOP: ShopIdentity = { name: 'Shop', brandColor: '#1f5fa8' };

/** The real English catalogue (`locales/en.json`), compiled: what the worker's emails say in `en`. */
export function englishLocalizer(): Localizer {
  const en = JSON.parse(readFileSync(path.join(LOCALES_DIR, `${DEFAULT_LANGUAGE}.json`), 'utf8')) as Record<
    string,
    string
  >;
  return compileCatalogues(new Map([[DEFAULT_LANGUAGE, en]]));
}

/** A fresh message's history (no earlier copies), with `overrides`. */
export function freshHistory(overrides: Partial<MessageHistory> = {}): MessageHistory {
  return {
    sendFailures: 0,
    internalErrors: 0,
    ledgerAttempts: 0,
    replayed: false,
    suppressionOverride: false,
    ...overrides,
  };
}

interface SentCall {
  deliveryId: number;
  attempt: number;
  receipt: Parameters<DeliveryLedger['recordSent']>[2];
}

interface FailureCall {
  deliveryId: number;
  attempt: number;
  failure: FailureRecord;
}

/** The delivery ledger in memory: one row per (event kind, order), changed as the SQL adapter changes it. */
export class InMemoryLedger implements DeliveryLedger {
  /** The ledger's clock (the database's `now()`); tests move it with `advance`. */
  now = new Date('2024-05-01T12:00:00.000Z');
  readonly claims: ClaimRequest[] = [];
  readonly sentCalls: SentCall[] = [];
  readonly failureCalls: FailureCall[] = [];
  readonly deadCalls: { deliveryId: number; error: string }[] = [];
  /** Scripted races: the next `recordFailure` finds its claim taken, the next `recordSent` finds the order sent. */
  readonly script = { claimLost: false, alreadySent: false };
  /** The suppression list: recipient keys (`suppressionKeyOf`); a rejection in `recordFailure` adds one. */
  readonly suppressed = new Set<string>();
  private readonly rows = new Map<number, DeliveryRecord>();
  private nextId = 1;

  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  /** Puts a row for `orderId` in the ledger, as an earlier attempt would have left it. */
  seed(orderId: string, fields: Partial<DeliveryRecord> = {}): DeliveryRecord {
    const row = this.newRow({
      eventKind: ORDER_CONFIRMED_EVENT_TYPE,
      orderId,
      eventId: 'earlier-event',
      correlationId: 'earlier-correlation',
    });
    Object.assign(row, fields);
    return { ...row };
  }

  /** The order's row as it stands now (a copy). */
  rowOf(orderId: string): DeliveryRecord | undefined {
    const row = [...this.rows.values()].find((r) => r.orderId === orderId);
    return row && { ...row };
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    this.claims.push({ ...request });
    const row =
      [...this.rows.values()].find((r) => r.eventKind === request.eventKind && r.orderId === request.orderId) ??
      this.newRow(request);
    const suppressed = this.suppressed.has(request.recipientKey) && !request.ignoreSuppression;
    const decision = decideClaim(row, this.now, request.graceMs, request.replayed, suppressed);
    const recipient = {
      recipient: request.recipient,
      subject: request.subject,
      template: request.template,
      locale: request.locale,
    } satisfies Partial<DeliveryRecord>;
    if (decision.kind === 'suppress') Object.assign(row, { ...recipient, status: 'suppressed', updatedAt: this.now });
    if (decision.kind !== 'send' && decision.kind !== 'resend-unknown') return { decision, record: { ...row } };
    const resend = decision.kind === 'resend-unknown';
    Object.assign(row, {
      ...recipient,
      status: 'sending',
      attempts: row.attempts + 1,
      eventId: request.eventId,
      correlationId: request.correlationId,
      workerId: request.workerId,
      sendingStartedAt: this.now,
      updatedAt: this.now,
      unknownOutcomeResends: row.unknownOutcomeResends + (resend ? 1 : 0),
      // A resend keeps the first Message-ID.
      messageId: resend ? (row.messageId ?? request.messageId) : request.messageId,
    } satisfies Partial<DeliveryRecord>);
    return { decision, record: { ...row }, attempt: row.attempts };
  }

  async recordSent(
    deliveryId: number,
    attempt: number,
    receipt: SentCall['receipt'],
  ): Promise<{ alreadySent: boolean }> {
    this.sentCalls.push({ deliveryId, attempt, receipt });
    const row = this.rowById(deliveryId);
    const alreadySent = this.script.alreadySent || row.status === 'sent';
    this.script.alreadySent = false;
    if (!alreadySent) {
      Object.assign(row, {
        status: 'sent',
        sentAt: this.now,
        updatedAt: this.now,
        smtpResponse: receipt.smtpResponse,
        smtpCode: receipt.smtpCode ?? null,
        messageId: receipt.messageId,
        lastError: null,
        lastErrorClass: null,
      } satisfies Partial<DeliveryRecord>);
    }
    return { alreadySent };
  }

  async recordFailure(deliveryId: number, attempt: number, failure: FailureRecord): Promise<{ claimLost: boolean }> {
    this.failureCalls.push({ deliveryId, attempt, failure });
    if (failure.rejection) this.suppressed.add(failure.rejection.address);
    const row = this.rowById(deliveryId);
    // Only the attempt that still holds the claim may change the row.
    const claimLost = this.script.claimLost || row.status !== 'sending' || row.attempts !== attempt;
    this.script.claimLost = false;
    if (!claimLost) {
      Object.assign(row, {
        status: failure.status,
        updatedAt: this.now,
        lastError: failure.error,
        lastErrorClass: failure.outcome,
        smtpCode: failure.smtpCode ?? null,
        smtpResponse: failure.smtpResponse ?? null,
      } satisfies Partial<DeliveryRecord>);
    }
    return { claimLost };
  }

  async markDead(deliveryId: number, error: string): Promise<void> {
    this.deadCalls.push({ deliveryId, error });
    const row = this.rowById(deliveryId);
    if (row.status === 'sending') {
      Object.assign(row, { status: 'dead', lastError: error, lastErrorClass: 'unknown_outcome', updatedAt: this.now });
    }
  }

  private newRow(ids: Pick<DeliveryRecord, 'eventKind' | 'orderId' | 'eventId' | 'correlationId'>): DeliveryRecord {
    const row: DeliveryRecord = {
      id: this.nextId++,
      eventKind: ids.eventKind,
      orderId: ids.orderId,
      eventId: ids.eventId,
      correlationId: ids.correlationId,
      status: 'pending',
      attempts: 0,
      lastError: null,
      lastErrorClass: null,
      smtpCode: null,
      smtpResponse: null,
      messageId: null,
      workerId: null,
      unknownOutcomeResends: 0,
      createdAt: this.now,
      updatedAt: this.now,
      sendingStartedAt: null,
      sentAt: null,
      recipient: null,
      subject: null,
      template: null,
      locale: null,
    };
    this.rows.set(row.id, row);
    return row;
  }

  private rowById(id: number): DeliveryRecord {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no delivery ${id}`);
    return row;
  }
}

type SendBehaviour = (mail: OutgoingMail) => Promise<SendReceipt>;

export const ACCEPTED: SendReceipt = { response: '250 2.0.0 OK: queued as 4F2A', responseCode: 250 };

/** A transport that records every mail and answers from a script (accepting when the script is empty). */
export class FakeTransport implements MailTransport {
  readonly mails: OutgoingMail[] = [];
  /** When each of `mails` was handed over (`Date.now()`). */
  readonly sentAt: number[] = [];
  private readonly script: SendBehaviour[] = [];

  /** The next send does `behaviour` (e.g. lets another worker run while it "hangs"). */
  nextSend(behaviour: SendBehaviour): this {
    this.script.push(behaviour);
    return this;
  }

  nextFails(failure: SendFailure): this {
    return this.nextSend(() => Promise.reject(new SendFailureError(failure)));
  }

  nextThrows(err: unknown): this {
    return this.nextSend(() => Promise.reject(err));
  }

  send(mail: OutgoingMail): Promise<SendReceipt> {
    this.mails.push(mail);
    this.sentAt.push(Date.now());
    const behaviour = this.script.shift() ?? (() => Promise.resolve(ACCEPTED));
    return behaviour(mail);
  }
}

/** A failed send with these facts; the reply (if any) becomes the failure's response, in the facts too (as the SMTP adapter reports it). */
export function sendFailure(facts: SendErrorFacts, message = 'send failed', response?: string): SendFailure {
  const reply =
    response ?? facts.response ?? (facts.responseCode !== undefined ? `${facts.responseCode} ${message}` : undefined);
  return { message, responseCode: facts.responseCode, response: reply, facts: { ...facts, response: reply } };
}

/** Renders `<p>Order {orderId}</p>`, or throws `failure` once set. */
export class FakeRenderer implements TemplateRenderer {
  readonly calls: { template: string; model: object }[] = [];
  failure: Error | undefined;

  render(template: string, model: object): RenderedEmail {
    this.calls.push({ template, model });
    if (this.failure) throw this.failure;
    const { orderId } = model as { orderId?: string };
    return { html: `<p>Order ${orderId}</p>`, text: `Order ${orderId}` };
  }
}

/** Counts what the worker measures. */
export class FakeMetrics implements WorkerMetrics {
  rendersStarted = 0;
  rendersTimed = 0;
  sendsStarted = 0;
  /** The reply code each timed send was stopped with. */
  readonly sendReplyCodes: (number | undefined)[] = [];
  readonly deliveredSeconds: number[] = [];
  outcomeUnknownCount = 0;
  rateLimitedCount = 0;
  /** The length of each pause the worker started, in seconds. */
  readonly pausedSeconds: number[] = [];
  /** How long each send waited for the shared cap, in seconds. */
  readonly sendRateWaits: number[] = [];

  startRender(): () => void {
    this.rendersStarted++;
    return () => {
      this.rendersTimed++;
    };
  }

  startSmtpSend(): (replyCode: number | undefined) => void {
    this.sendsStarted++;
    return (replyCode) => {
      this.sendReplyCodes.push(replyCode);
    };
  }

  delivered(endToEndSeconds: number): void {
    this.deliveredSeconds.push(endToEndSeconds);
  }

  outcomeUnknown(): void {
    this.outcomeUnknownCount++;
  }

  rateLimited(): void {
    this.rateLimitedCount++;
  }

  paused(seconds: number): void {
    this.pausedSeconds.push(seconds);
  }

  waitedForSendRate(seconds: number): void {
    this.sendRateWaits.push(seconds);
  }
}

/**
 * The shared cap, in memory: records when each token was taken, hands them out at once unless a
 * test holds them back (`hold`) or makes the store unreachable (`failWith`).
 */
export class FakeRateLimiter implements SendRateLimiter {
  /** When each token was handed out (`Date.now()`). */
  readonly taken: number[] = [];
  /** Rejects every `acquire` with this while set. */
  failWith: Error | undefined;
  private held: (() => void)[] | null = null;

  /** From now on, tokens wait for `release`. */
  hold(): void {
    this.held ??= [];
  }

  /** Hands out the tokens held back, and no longer holds any. */
  release(): void {
    const waiting = this.held ?? [];
    this.held = null;
    waiting.forEach((give) => give());
  }

  /** Calls waiting for a token now. */
  waiting(): number {
    return this.held?.length ?? 0;
  }

  async acquire(): Promise<void> {
    if (this.failWith) throw this.failWith;
    if (this.held) await new Promise<void>((resolve) => this.held?.push(resolve));
    this.taken.push(Date.now());
  }
}

export interface WorkerHarness {
  worker: MailWorker;
  ledger: InMemoryLedger;
  transport: FakeTransport;
  renderer: FakeRenderer;
  metrics: FakeMetrics;
  logger: Logger;
  /** Every line the worker logged, parsed. */
  logs: LogLine[];
  /** Another worker (e.g. on another host) sharing these ports. */
  another(workerId: string): MailWorker;
}

/** A worker over fresh fakes; `deps` overrides any of its dependencies. */
export function workerHarness(deps: Partial<MailWorkerDeps> = {}): WorkerHarness {
  const ledger = new InMemoryLedger();
  const transport = new FakeTransport();
  const renderer = new FakeRenderer();
  const metrics = new FakeMetrics();
  const logs: LogLine[] = [];
  const logger = capturingLogger(logs);
  const localizer = englishLocalizer();
  const depsFor = (workerId: string): MailWorkerDeps => ({
    transport,
    templates: renderer,
    ledger,
    metrics,
    logger,
    schedule: SCHEDULE,
    workerId,
    mailFrom: MAIL_FROM,
    email: { messageIdDomain: MESSAGE_ID_DOMAIN, shop: SHOP, localizer },
    ...deps,
  });
  return {
    worker: createMailWorker(depsFor(WORKER_ID)),
    ledger,
    transport,
    renderer,
    metrics,
    logger,
    logs,
    another: (workerId) => createMailWorker(depsFor(workerId)),
  };
}
