import { AppError, ErrorCodes, ORDER_CONFIRMED_EVENT_TYPE } from '@order-mail/shared/contract';
import { sampleEvent, sampleOrder } from '@test/helpers/orders';
import type { SendErrorFacts } from '../../src/domain/classify-failure';
import type { DeliveryRecord } from '../../src/domain/delivery-ledger';
import type { DeliveryOutcome, MessageHistory } from '../../src/domain/delivery-outcome';
import { ORDER_CONFIRMATION_TEMPLATE } from '../../src/domain/order-email';
import { SendFailureError } from '../../src/domain/ports';
import {
  ACCEPTED,
  FakeRateLimiter,
  freshHistory,
  MAIL_FROM,
  MESSAGE_ID_DOMAIN,
  SCHEDULE,
  sendFailure,
  WORKER_ID,
  workerHarness,
} from './fakes/worker-ports';

const GRACE_MS = SCHEDULE.unknownOutcomeGraceMs;
const LONGEST_DELAY_MS = Math.max(...SCHEDULE.delaysMs);
const PINO_WARN = 40;
const PINO_ERROR = 50;

/** The ids every outcome of `event` carries. */
function idsOf(event: ReturnType<typeof sampleEvent>) {
  return {
    template: ORDER_CONFIRMATION_TEMPLATE,
    orderId: event.order.orderId,
    eventId: event.eventId,
    correlationId: event.correlationId,
  };
}

const messageIdOf = (eventId: string) => `<${eventId}@${MESSAGE_ID_DOMAIN}>`;

/** `ack sent`, `hold unknown_outcome`, `retry 1000`, …: one outcome in a few words, for walking a story. */
function summary(outcome: DeliveryOutcome): string {
  switch (outcome.action) {
    case 'ack':
      return `ack ${outcome.result}`;
    case 'retry':
      return `retry ${outcome.delayMs}`;
    case 'hold':
    case 'dead-letter':
      return `${outcome.action} ${outcome.reason}`;
  }
}

/** Facts of failed sends, one per failure class (as the SMTP adapter would report them). */
const FACTS = {
  transientReply: { code: 'EENVELOPE', responseCode: 451, permanentReply: false, stage: 'before-data' },
  transientNoReply: { code: 'ECONNECTION', permanentReply: false, stage: 'before-data' },
  transientMidContent: { code: 'ETIMEDOUT', permanentReply: false, stage: 'content' },
  permanent: { code: 'EENVELOPE', responseCode: 550, permanentReply: true, stage: 'before-data' },
  auth: { code: 'EAUTH', responseCode: 535, permanentReply: true, stage: 'before-data' },
  unknownOutcome: { code: 'ETIMEDOUT', permanentReply: false, stage: 'after-final-dot' },
} satisfies Record<string, SendErrorFacts>;

describe('mail worker', () => {
  describe('when a fresh order is sent', () => {
    it('then the message is acked as sent with the SMTP reply, and the ledger records attempt 1 as sent', async () => {
      // Arrange
      const { worker, ledger } = workerHarness();
      const event = sampleEvent();

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toEqual({ ...idsOf(event), action: 'ack', result: 'sent', smtpResponse: ACCEPTED.response });
      const row = ledger.rowOf(event.order.orderId);
      expect(row).toMatchObject({ status: 'sent', attempts: 1, messageId: messageIdOf(event.eventId) });
      expect(ledger.sentCalls).toEqual([
        {
          deliveryId: row?.id,
          attempt: 1,
          receipt: { smtpResponse: ACCEPTED.response, smtpCode: 250, messageId: messageIdOf(event.eventId) },
        },
      ]);
    });

    it('then the transport receives one email from MAIL_FROM to the customer, with the event’s Message-ID and the order’s headers', async () => {
      // Arrange
      const { worker, transport } = workerHarness();
      const event = sampleEvent({ order: sampleOrder({ orderId: 'A-2002' }), correlationId: 'corr-xyz' });

      // Act
      await worker.process(event, freshHistory());

      // Assert
      expect(transport.mails).toEqual([
        {
          from: MAIL_FROM,
          to: { name: 'Ada Lovelace', address: 'ada@example.com' },
          subject: 'Your order A-2002 is confirmed',
          messageId: messageIdOf(event.eventId),
          html: '<p>Order A-2002</p>',
          text: 'Order A-2002',
          headers: { 'X-Order-Id': 'A-2002', 'X-Correlation-Id': 'corr-xyz' },
        },
      ]);
    });

    it.each([
      ['a first delivery', false],
      ['a replayed dead letter', true],
    ])(
      'when the message is %s, then the ledger is asked for a claim with the event’s ids, the grace period and replayed = %s',
      async (_label, replayed) => {
        // Arrange
        const { worker, ledger } = workerHarness();
        const event = sampleEvent();

        // Act
        await worker.process(event, freshHistory({ replayed }));

        // Assert
        expect(ledger.claims).toEqual([
          {
            eventKind: ORDER_CONFIRMED_EVENT_TYPE,
            orderId: event.order.orderId,
            eventId: event.eventId,
            correlationId: event.correlationId,
            workerId: WORKER_ID,
            graceMs: GRACE_MS,
            messageId: messageIdOf(event.eventId),
            replayed,
            recipient: event.order.customer.email,
            recipientKey: event.order.customer.email,
            subject: `Your order ${event.order.orderId} is confirmed`,
            template: ORDER_CONFIRMATION_TEMPLATE,
            locale: event.order.customer.locale,
            ignoreSuppression: false,
          },
        ]);
      },
    );

    it('then the render and the send are timed, the send with the reply code, and the delivery counted once', async () => {
      // Arrange
      const { worker, metrics, renderer } = workerHarness();
      const event = sampleEvent();

      // Act
      await worker.process(event, freshHistory());

      // Assert
      expect(renderer.calls).toEqual([
        { template: ORDER_CONFIRMATION_TEMPLATE, model: expect.objectContaining({ orderId: event.order.orderId }) },
      ]);
      expect(metrics).toMatchObject({ rendersStarted: 1, rendersTimed: 1, sendsStarted: 1, outcomeUnknownCount: 0 });
      expect(metrics.sendReplyCodes).toEqual([250]);
      expect(metrics.deliveredSeconds).toEqual([expect.any(Number)]);
      expect(metrics.deliveredSeconds[0]).toBeGreaterThanOrEqual(0);
    });

    it('then its lines carry the caller’s bindings and the order’s ids, and name the recipient only masked', async () => {
      // Arrange
      const { worker, logger, logs } = workerHarness();
      const event = sampleEvent();

      // Act
      await worker.process(event, freshHistory(), logger.child({ messageId: 'amqp-1' }));

      // Assert
      const sentLine = logs.find((line) => line.msg === 'email sent');
      expect(sentLine).toMatchObject({
        messageId: 'amqp-1',
        ...idsOf(event),
        attempt: 1,
        recipient: 'a***@example.com',
        smtpResponse: ACCEPTED.response,
      });
      expect(JSON.stringify(logs)).not.toContain('ada@example.com');
    });
  });

  describe('when the ledger says not to send', () => {
    const SENT_AT = new Date('2024-05-01T11:00:00.000Z');

    it.each<[string, Partial<DeliveryRecord>, Partial<MessageHistory>, Record<string, unknown>]>([
      [
        'the order was sent already (skip-sent)',
        { status: 'sent', attempts: 1, sentAt: SENT_AT },
        {},
        { action: 'ack', result: 'duplicate_skipped' },
      ],
      [
        'the order is dead and the message is a stray duplicate (skip-dead)',
        { status: 'dead', attempts: 4 },
        { replayed: false },
        { action: 'ack', result: 'duplicate_skipped' },
      ],
      [
        'the order was sent already, even for a replayed dead letter (skip-sent)',
        { status: 'sent', attempts: 2, sentAt: SENT_AT },
        { replayed: true },
        { action: 'ack', result: 'duplicate_skipped' },
      ],
      [
        'another send of the order started a second ago (wait)',
        { status: 'sending', attempts: 1, sendingStartedAt: new Date('2024-05-01T11:59:59.000Z') },
        {},
        { action: 'hold', delayMs: GRACE_MS, reason: 'in_progress' },
      ],
    ])(
      'when %s, then nothing is rendered or sent, and the ledger row is left as it was',
      async (_label, row, history, expected) => {
        // Arrange
        const { worker, ledger, transport, renderer, metrics } = workerHarness();
        const event = sampleEvent();
        const before = ledger.seed(event.order.orderId, row);

        // Act
        const outcome = await worker.process(event, freshHistory(history));

        // Assert
        expect(outcome).toEqual({ ...idsOf(event), ...expected });
        expect(transport.mails).toEqual([]);
        expect(renderer.calls).toEqual([]);
        expect(metrics).toMatchObject({ rendersStarted: 0, sendsStarted: 0, outcomeUnknownCount: 0 });
        expect(ledger.rowOf(event.order.orderId)).toEqual(before);
      },
    );

    it('when the order is already sent, then the line says when it was sent', async () => {
      // Arrange
      const { worker, ledger, logs } = workerHarness();
      const event = sampleEvent();
      ledger.seed(event.order.orderId, { status: 'sent', attempts: 1, sentAt: SENT_AT });

      // Act
      await worker.process(event, freshHistory());

      // Assert
      expect(logs).toContainEqual(
        expect.objectContaining({ msg: 'already sent, acking without sending', sentAt: SENT_AT.toISOString() }),
      );
    });
  });

  describe('when a dead order’s dead letter is replayed', () => {
    it('then the order is sent as a new attempt with this event’s Message-ID', async () => {
      // Arrange
      const { worker, ledger, transport } = workerHarness();
      const event = sampleEvent();
      ledger.seed(event.order.orderId, {
        status: 'dead',
        attempts: 4,
        messageId: '<earlier@mail.shop.example>',
        lastErrorClass: 'transient',
      });

      // Act
      const outcome = await worker.process(event, freshHistory({ replayed: true }));

      // Assert
      expect(outcome).toMatchObject({ action: 'ack', result: 'sent' });
      expect(transport.mails.map((mail) => mail.messageId)).toEqual([messageIdOf(event.eventId)]);
      expect(ledger.sentCalls).toEqual([expect.objectContaining({ attempt: 5 })]);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({ status: 'sent', attempts: 5 });
    });
  });

  describe('when the outcome of an earlier send is unknown (sending past the grace period)', () => {
    function seedUnknown(
      ledger: ReturnType<typeof workerHarness>['ledger'],
      orderId: string,
      fields: Partial<DeliveryRecord> = {},
    ) {
      return ledger.seed(orderId, {
        status: 'sending',
        attempts: 1,
        messageId: '<first@mail.shop.example>',
        sendingStartedAt: new Date(ledger.now.getTime() - GRACE_MS),
        ...fields,
      });
    }

    it('then it is resent once, with the Message-ID of the earlier send rather than this event’s', async () => {
      // Arrange
      const { worker, ledger, transport } = workerHarness();
      const event = sampleEvent();
      seedUnknown(ledger, event.order.orderId);

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toEqual({ ...idsOf(event), action: 'ack', result: 'sent', smtpResponse: ACCEPTED.response });
      expect(transport.mails.map((mail) => mail.messageId)).toEqual(['<first@mail.shop.example>']);
      expect(ledger.sentCalls).toEqual([
        expect.objectContaining({
          attempt: 2,
          receipt: expect.objectContaining({ messageId: '<first@mail.shop.example>' }),
        }),
      ]);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({ status: 'sent', unknownOutcomeResends: 1 });
    });

    it.each([
      ['no failure was recorded (the worker died mid-send)', 1, null],
      ['the last recorded failure was transient (the worker died on a later send)', 1, 'transient'],
      ['the failure was recorded as unknown_outcome (counted then)', 0, 'unknown_outcome'],
    ])('when %s, then outcomeUnknown is counted %i time(s) on the resend', async (_label, counted, lastErrorClass) => {
      // Arrange
      const { worker, ledger, metrics, logs } = workerHarness();
      const event = sampleEvent();
      seedUnknown(ledger, event.order.orderId, { lastErrorClass });

      // Act
      await worker.process(event, freshHistory());

      // Assert
      expect(metrics.outcomeUnknownCount).toBe(counted);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: PINO_WARN,
          attempt: 2,
          msg: 'outcome of an earlier send is unknown; resending once with the same Message-ID',
        }),
      );
    });

    it('when it was already resent once and is unknown again, then the order is marked dead and dead-lettered as outcome_unknown without a send', async () => {
      // Arrange
      const { worker, ledger, transport } = workerHarness();
      const event = sampleEvent();
      const row = seedUnknown(ledger, event.order.orderId, {
        attempts: 2,
        unknownOutcomeResends: 1,
        lastErrorClass: 'unknown_outcome',
      });

      // Act
      const outcome = await worker.process(event, freshHistory({ sendFailures: 1, ledgerAttempts: 2 }));

      // Assert
      const message = 'Outcome of the send stayed unknown after one resend';
      expect(outcome).toEqual({
        ...idsOf(event),
        action: 'dead-letter',
        reason: 'outcome_unknown',
        failure: { failureClass: 'unknown_outcome', message },
        counts: { ledgerAttempts: 2 },
      });
      expect(ledger.deadCalls).toEqual([{ deliveryId: row.id, error: message }]);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({ status: 'dead', attempts: 2 });
      expect(transport.mails).toEqual([]);
    });

    it('when a send times out after the final dot twice, then the story ends in a dead letter the operator replays', async () => {
      // Arrange
      const { worker, ledger, transport, metrics } = workerHarness();
      const event = sampleEvent();
      transport
        .nextFails(sendFailure(FACTS.unknownOutcome, 'Timeout waiting for the reply'))
        .nextFails(sendFailure(FACTS.unknownOutcome, 'Timeout waiting for the reply'));

      // Act
      const first = await worker.process(event, freshHistory());
      ledger.advance(GRACE_MS);
      const resend = await worker.process(event, freshHistory());
      ledger.advance(GRACE_MS);
      const givenUp = await worker.process(event, freshHistory());
      const repostedEvent = sampleEvent({ order: event.order, correlationId: event.correlationId });
      const stray = await worker.process(repostedEvent, freshHistory());
      const replay = await worker.process(event, freshHistory({ replayed: true }));

      // Assert
      expect([first, resend, givenUp, stray, replay].map(summary)).toEqual([
        'hold unknown_outcome',
        'hold unknown_outcome',
        'dead-letter outcome_unknown',
        'ack duplicate_skipped',
        'ack sent',
      ]);
      expect(givenUp).toMatchObject({ counts: { ledgerAttempts: 2 } });
      expect(transport.mails.map((mail) => mail.messageId)).toEqual([
        messageIdOf(event.eventId),
        messageIdOf(event.eventId),
        messageIdOf(event.eventId),
      ]);
      // Counted when each timeout was seen, not again when the resend found it.
      expect(metrics.outcomeUnknownCount).toBe(2);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({ status: 'sent', attempts: 3 });
    });
  });

  describe('when the template cannot be rendered', () => {
    it.each([
      [
        'there is no such template',
        'unknown_template',
        new AppError(ErrorCodes.TEMPLATE_NOT_FOUND, 'Unknown template'),
      ],
      ['the template fails', 'render_failed', new AppError(ErrorCodes.RENDER_FAILED, 'Render failed: bad MJML')],
      ['the renderer throws something else', 'render_failed', new TypeError('x is undefined')],
    ])(
      'when %s, then the delivery is recorded dead and the message dead-lettered as %s without a send',
      async (_label, reason, error) => {
        // Arrange
        const { worker, ledger, renderer, transport, logs } = workerHarness();
        renderer.failure = error;
        const event = sampleEvent();

        // Act
        const outcome = await worker.process(event, freshHistory());

        // Assert
        expect(outcome).toEqual({
          ...idsOf(event),
          action: 'dead-letter',
          reason,
          failure: { failureClass: 'render_failed', message: error.message },
          counts: { ledgerAttempts: 1 },
        });
        const row = ledger.rowOf(event.order.orderId);
        expect(ledger.failureCalls).toEqual([
          {
            deliveryId: row?.id,
            attempt: 1,
            failure: { status: 'dead', outcome: 'render_failed', error: error.message, reason },
          },
        ]);
        expect(row).toMatchObject({ status: 'dead', lastErrorClass: 'render_failed' });
        expect(transport.mails).toEqual([]);
        expect(logs).toContainEqual(
          expect.objectContaining({
            level: PINO_ERROR,
            msg: 'cannot render email',
            template: ORDER_CONFIRMATION_TEMPLATE,
          }),
        );
      },
    );
  });

  describe('when the send fails', () => {
    interface FailureCase {
      label: string;
      facts: SendErrorFacts;
      failureClass: string;
      history: Partial<MessageHistory>;
      expected: Record<string, unknown>;
      ledgerStatus: 'retrying' | 'dead' | 'sending';
      outcomeUnknownCount: number;
      logLevel: number;
    }

    const failureCases: FailureCase[] = [
      {
        label: 'with a transient reply (451) on a fresh message',
        facts: FACTS.transientReply,
        failureClass: 'transient',
        history: {},
        expected: { action: 'retry', delayMs: 1_000, counts: { sendFailures: 1, ledgerAttempts: 1 }, retryNumber: 1 },
        ledgerStatus: 'retrying',
        outcomeUnknownCount: 0,
        logLevel: PINO_WARN,
      },
      {
        label: 'with a lost connection before DATA after one earlier failure',
        facts: FACTS.transientNoReply,
        failureClass: 'transient',
        history: { sendFailures: 1 },
        expected: { action: 'retry', delayMs: 5_000, counts: { sendFailures: 2, ledgerAttempts: 1 }, retryNumber: 2 },
        ledgerStatus: 'retrying',
        outcomeUnknownCount: 0,
        logLevel: PINO_WARN,
      },
      {
        label: 'with a timeout mid-content on the last place in the schedule',
        facts: FACTS.transientMidContent,
        failureClass: 'transient',
        history: { sendFailures: 2 },
        expected: { action: 'retry', delayMs: 30_000, counts: { sendFailures: 3, ledgerAttempts: 1 }, retryNumber: 3 },
        ledgerStatus: 'retrying',
        outcomeUnknownCount: 0,
        logLevel: PINO_WARN,
      },
      {
        label: 'transiently, beyond the schedule',
        facts: FACTS.transientReply,
        failureClass: 'transient',
        history: { sendFailures: 3 },
        expected: {
          action: 'dead-letter',
          reason: 'retries_exhausted',
          counts: { sendFailures: 4, ledgerAttempts: 1 },
        },
        ledgerStatus: 'dead',
        outcomeUnknownCount: 0,
        logLevel: PINO_WARN,
      },
      {
        label: 'with a permanent rejection (550)',
        facts: FACTS.permanent,
        failureClass: 'permanent',
        history: { sendFailures: 1 },
        expected: { action: 'dead-letter', reason: 'smtp_rejected', counts: { sendFailures: 2, ledgerAttempts: 1 } },
        ledgerStatus: 'dead',
        outcomeUnknownCount: 0,
        logLevel: PINO_WARN,
      },
      {
        label: 'with refused credentials (535) on a fresh message',
        facts: FACTS.auth,
        failureClass: 'auth',
        history: {},
        expected: {
          action: 'retry',
          delayMs: LONGEST_DELAY_MS,
          counts: { sendFailures: 0, ledgerAttempts: 1 },
          retryNumber: 1,
        },
        ledgerStatus: 'retrying',
        outcomeUnknownCount: 0,
        logLevel: PINO_ERROR,
      },
      {
        label: 'with refused credentials (535) after two transient failures',
        facts: FACTS.auth,
        failureClass: 'auth',
        history: { sendFailures: 2 },
        expected: {
          action: 'retry',
          delayMs: LONGEST_DELAY_MS,
          counts: { sendFailures: 2, ledgerAttempts: 1 },
          retryNumber: 3,
        },
        ledgerStatus: 'retrying',
        outcomeUnknownCount: 0,
        logLevel: PINO_ERROR,
      },
      {
        label: 'without a reply after the final dot (unknown outcome)',
        facts: FACTS.unknownOutcome,
        failureClass: 'unknown_outcome',
        history: {},
        expected: { action: 'hold', delayMs: GRACE_MS, reason: 'unknown_outcome' },
        ledgerStatus: 'sending',
        outcomeUnknownCount: 1,
        logLevel: PINO_WARN,
      },
    ];

    it.each(failureCases)(
      'when it fails $label, then it is classed $failureClass, and the outcome and the ledger say what the retry policy decided',
      async ({ facts, failureClass, history, expected, ledgerStatus, outcomeUnknownCount, logLevel }) => {
        // Arrange
        const { worker, ledger, transport, metrics, logs } = workerHarness();
        const event = sampleEvent();
        const failure = sendFailure(facts, 'the server said no');
        transport.nextFails(failure);

        // Act
        const outcome = await worker.process(event, freshHistory(history));

        // Assert
        const failureInfo = {
          failureClass,
          message: 'the server said no',
          responseCode: facts.responseCode,
          response: failure.response,
        };
        expect(outcome).toEqual({ ...idsOf(event), ...expected, failure: failureInfo });
        const row = ledger.rowOf(event.order.orderId);
        expect(ledger.failureCalls).toEqual([
          {
            deliveryId: row?.id,
            attempt: 1,
            failure: {
              status: ledgerStatus,
              outcome: failureClass,
              error: 'the server said no',
              smtpCode: facts.responseCode,
              smtpResponse: failure.response,
              // What the delivery event says: the dead-letter reason, or else the failure class.
              reason: expected.action === 'dead-letter' ? expected.reason : failureClass,
            },
          },
        ]);
        expect(row?.status).toBe(ledgerStatus);
        expect(metrics.outcomeUnknownCount).toBe(outcomeUnknownCount);
        expect(metrics.sendReplyCodes).toEqual([facts.responseCode]);
        expect(metrics.deliveredSeconds).toEqual([]);
        expect(logs).toContainEqual(
          expect.objectContaining({ level: logLevel, attempt: 1, error: 'the server said no' }),
        );
      },
    );

    it('when a retried message fails again, then the attempt numbers follow the ledger’s count', async () => {
      // Arrange
      const { worker, ledger, transport } = workerHarness();
      const event = sampleEvent();
      transport.nextFails(sendFailure(FACTS.transientReply)).nextFails(sendFailure(FACTS.transientReply));

      // Act
      const first = await worker.process(event, freshHistory());
      const second = await worker.process(event, freshHistory({ sendFailures: 1, ledgerAttempts: 1 }));
      const third = await worker.process(event, freshHistory({ sendFailures: 2, ledgerAttempts: 2 }));

      // Assert
      expect([first, second].map((o) => (o.action === 'retry' ? [o.counts, o.retryNumber, o.delayMs] : o))).toEqual([
        [{ sendFailures: 1, ledgerAttempts: 1 }, 1, 1_000],
        [{ sendFailures: 2, ledgerAttempts: 2 }, 2, 5_000],
      ]);
      expect(third).toMatchObject({ action: 'ack', result: 'sent' });
      expect(ledger.failureCalls.map((call) => call.attempt)).toEqual([1, 2]);
      expect(ledger.sentCalls.map((call) => call.attempt)).toEqual([3]);
      expect(ledger.claims).toHaveLength(3);
    });

    it.each(Object.entries(FACTS))(
      'when the failure (%s) is recorded after another attempt took the delivery, then the message is held as in_progress',
      async (_label, facts) => {
        // Arrange
        const { worker, ledger, transport, metrics } = workerHarness();
        const event = sampleEvent();
        transport.nextFails(sendFailure(facts, 'lost'));
        ledger.script.claimLost = true;

        // Act
        const outcome = await worker.process(event, freshHistory());

        // Assert
        expect(outcome).toEqual({
          ...idsOf(event),
          action: 'hold',
          delayMs: GRACE_MS,
          reason: 'in_progress',
          failure: expect.objectContaining({ message: 'lost' }),
        });
        expect(metrics.outcomeUnknownCount).toBe(0);
        expect(ledger.failureCalls).toHaveLength(1);
      },
    );

    it('when this send outlives the grace period, another worker resends and sends, and this one then fails, then it holds and the row stays sent', async () => {
      // Arrange
      const { worker, another, ledger, transport, logs } = workerHarness();
      const event = sampleEvent();
      transport.nextSend(async () => {
        ledger.advance(GRACE_MS);
        await another('worker-2').process(event, freshHistory());
        throw new SendFailureError(sendFailure(FACTS.transientNoReply));
      });

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toMatchObject({ action: 'hold', reason: 'in_progress', delayMs: GRACE_MS });
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({ status: 'sent', attempts: 2, workerId: 'worker-2' });
      expect(logs).toContainEqual(
        expect.objectContaining({ msg: 'this attempt no longer holds the delivery; holding the message', attempt: 1 }),
      );
    });

    it('when the transport throws something that is not a SendFailureError, then process rejects with it and nothing is recorded', async () => {
      // Arrange
      const { worker, ledger, transport, metrics } = workerHarness();
      const event = sampleEvent();
      const bug = new TypeError('Cannot read properties of undefined');
      transport.nextThrows(bug);

      // Act
      const processing = worker.process(event, freshHistory());

      // Assert
      await expect(processing).rejects.toBe(bug);
      expect(ledger.failureCalls).toEqual([]);
      expect(ledger.sentCalls).toEqual([]);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({ status: 'sending', attempts: 1 });
      expect(metrics.deliveredSeconds).toEqual([]);
    });
  });

  describe('when the ledger says the order was sent already as the send is recorded', () => {
    it('when scripted, then the message is still acked as sent and an error is logged', async () => {
      // Arrange
      const { worker, ledger, logs } = workerHarness();
      const event = sampleEvent();
      ledger.script.alreadySent = true;

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toEqual({ ...idsOf(event), action: 'ack', result: 'sent', smtpResponse: ACCEPTED.response });
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: PINO_ERROR,
          attempt: 1,
          msg: 'another attempt had already sent this order: a duplicate email went out',
        }),
      );
    });

    it('when this send outlived the grace period and another worker resent it, then both acks say sent and two emails share the Message-ID', async () => {
      // Arrange
      const { worker, another, ledger, transport, logs } = workerHarness();
      const event = sampleEvent();
      let other: DeliveryOutcome | undefined;
      transport.nextSend(async () => {
        ledger.advance(GRACE_MS);
        other = await another('worker-2').process(event, freshHistory());
        return ACCEPTED;
      });

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toMatchObject({ action: 'ack', result: 'sent' });
      expect(other).toMatchObject({ action: 'ack', result: 'sent' });
      expect(transport.mails.map((mail) => mail.messageId)).toEqual([
        messageIdOf(event.eventId),
        messageIdOf(event.eventId),
      ]);
      expect(ledger.sentCalls.map((call) => call.attempt)).toEqual([2, 1]);
      expect(logs.filter((line) => line.level === PINO_ERROR).map((line) => line.msg)).toEqual([
        'another attempt had already sent this order: a duplicate email went out',
      ]);
    });
  });

  describe('when the recipient is on the suppression list', () => {
    it('then nothing is rendered or sent, the message is acked as suppressed and the delivery ends suppressed with its recipient', async () => {
      // Arrange
      const { worker, ledger, transport, renderer } = workerHarness();
      const event = sampleEvent();
      ledger.suppressed.add(event.order.customer.email);

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toEqual({ ...idsOf(event), action: 'ack', result: 'suppressed' });
      expect(transport.mails).toEqual([]);
      expect(renderer.calls).toEqual([]);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({
        status: 'suppressed',
        attempts: 0,
        recipient: event.order.customer.email,
      });
    });

    it('when the message is a replay forced past the list (x-suppression-override), then the email is sent', async () => {
      // Arrange
      const { worker, ledger, transport } = workerHarness();
      const event = sampleEvent();
      ledger.suppressed.add(event.order.customer.email);

      // Act
      const outcome = await worker.process(event, freshHistory({ replayed: true, suppressionOverride: true }));

      // Assert
      expect(outcome).toMatchObject({ action: 'ack', result: 'sent' });
      expect(transport.mails).toHaveLength(1);
      expect(ledger.claims[0]).toMatchObject({ ignoreSuppression: true });
    });
  });

  describe('when the SMTP server refuses the recipient', () => {
    // [reply, command, suppressed?]: the worker asks the ledger to suppress only a dead address.
    it.each<[string, string, boolean]>([
      ['550 5.1.1 No such user', 'RCPT TO', true],
      ['550 No such user', 'RCPT TO', true],
      ['550 5.7.1 Relaying denied', 'RCPT TO', false],
      ['550 Message looks like spam', 'DATA', false],
    ])('when it answers "%s" to %s, then the ledger is asked to suppress: %s', async (response, command, suppress) => {
      // Arrange
      const { worker, ledger, transport } = workerHarness();
      const event = sampleEvent();
      transport.nextFails({ ...sendFailure(FACTS.permanent, 'refused', response), command });

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toMatchObject({ action: 'dead-letter', reason: 'smtp_rejected' });
      const rejection = ledger.failureCalls[0]?.failure.rejection;
      if (suppress) {
        expect(rejection).toEqual({
          address: event.order.customer.email,
          orderId: event.order.orderId,
          smtpCode: 550,
          smtpResponse: response,
          createdBy: `mailer:${WORKER_ID}`,
        });
      } else {
        expect(rejection).toBeUndefined();
      }
      expect(ledger.suppressed.has(event.order.customer.email)).toBe(suppress);
    });

    it('when the reply quotes the recipient, then no log line carries the whole address', async () => {
      // Arrange
      const { worker, transport, logs } = workerHarness();
      const event = sampleEvent();
      const reply = `550 5.1.1 <${event.order.customer.email}>: Recipient address rejected`;
      transport.nextFails({ ...sendFailure(FACTS.permanent, `Can't send mail - ${reply}`, reply), command: 'RCPT TO' });

      // Act
      await worker.process(event, freshHistory());

      // Assert
      expect(logs.length).toBeGreaterThan(0);
      expect(JSON.stringify(logs)).not.toContain(event.order.customer.email);
      expect(JSON.stringify(logs)).toContain('a***@example.com');
    });

    it('when the next order goes to the same address, then it is not sent', async () => {
      // Arrange
      const { worker, transport } = workerHarness();
      transport.nextFails({ ...sendFailure(FACTS.permanent, 'refused', '550 5.1.1 No such user'), command: 'RCPT TO' });
      await worker.process(sampleEvent({ order: sampleOrder({ orderId: 'A-1' }) }), freshHistory());

      // Act
      const outcome = await worker.process(sampleEvent({ order: sampleOrder({ orderId: 'A-2' }) }), freshHistory());

      // Assert
      expect(outcome).toMatchObject({ action: 'ack', result: 'suppressed' });
      expect(transport.mails).toHaveLength(1);
    });
  });

  describe('when the SMTP server turns a send away for our rate', () => {
    const PAUSE_MS = 40;
    /** Timers may fire a millisecond early by Date.now()'s rounding. */
    const AFTER_PAUSE_MS = PAUSE_MS - 2;
    const RATE_LIMITED: SendErrorFacts = {
      code: 'EMESSAGE',
      responseCode: 421,
      response: '421 4.7.0 rate limit exceeded',
      permanentReply: false,
      stage: 'after-final-dot',
    };
    const rateLimited = () => sendFailure(RATE_LIMITED, 'rate limit exceeded', RATE_LIMITED.response);
    const PAUSING = "SMTP server limits our sending rate; pausing this worker's sends";

    /** Lets promises and timers run until `done()` holds (at most 2 s). */
    async function until(done: () => boolean): Promise<void> {
      for (const deadline = Date.now() + 2000; !done();) {
        if (Date.now() > deadline) throw new Error('condition not reached');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }

    function deferred() {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    }

    const orderEvent = (orderId: string) => sampleEvent({ order: sampleOrder({ orderId }) });

    it('then the worker pauses and sends it again after the pause, with the same Message-ID, recorded quietly and without a retry', async () => {
      // Arrange
      const { worker, ledger, transport, metrics, logs } = workerHarness({ rateLimitPauseMs: PAUSE_MS });
      const event = sampleEvent();
      transport.nextFails(rateLimited());

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert: sent by the second try, one pause apart
      expect(outcome).toEqual({ ...idsOf(event), action: 'ack', result: 'sent', smtpResponse: ACCEPTED.response });
      const messageId = messageIdOf(event.eventId);
      expect(transport.mails.map((mail) => mail.messageId)).toEqual([messageId, messageId]);
      expect(transport.sentAt[1] - transport.sentAt[0]).toBeGreaterThanOrEqual(AFTER_PAUSE_MS);
      // The ledger: attempt 1 rate-limited (quiet: no email.retrying), attempt 2 sent
      const row = ledger.rowOf(event.order.orderId);
      expect(ledger.failureCalls).toEqual([
        {
          deliveryId: row?.id,
          attempt: 1,
          failure: {
            status: 'retrying',
            outcome: 'rate_limited',
            error: 'rate limit exceeded',
            smtpCode: 421,
            smtpResponse: '421 4.7.0 rate limit exceeded',
            reason: 'rate_limited',
            quiet: true,
          },
        },
      ]);
      expect(ledger.sentCalls.map((call) => call.attempt)).toEqual([2]);
      expect(ledger.claims.map((claim) => claim.messageId)).toEqual([messageId, messageId]);
      expect(row).toMatchObject({ status: 'sent', attempts: 2 });
      expect(metrics.rateLimitedCount).toBe(1);
      expect(metrics.pausedSeconds).toEqual([PAUSE_MS / 1000]);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: PINO_WARN,
          msg: PAUSING,
          pauseMs: PAUSE_MS,
          smtpCode: 421,
          attempt: 1,
          rateLimitedInARow: 1,
        }),
      );
      expect(logs).not.toContainEqual(expect.objectContaining({ msg: 'send failed' }));
    });

    it('then, on the third reply in a row, the message takes the retry schedule as rate_limited, each pause twice the last', async () => {
      // Arrange
      const { worker, ledger, transport, metrics } = workerHarness({ rateLimitPauseMs: PAUSE_MS });
      const event = sampleEvent();
      const failure = rateLimited();
      transport.nextFails(failure).nextFails(failure).nextFails(failure);

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toEqual({
        ...idsOf(event),
        action: 'retry',
        delayMs: SCHEDULE.delaysMs[0],
        failure: {
          failureClass: 'rate_limited',
          message: 'rate limit exceeded',
          responseCode: 421,
          response: '421 4.7.0 rate limit exceeded',
        },
        counts: { sendFailures: 1, ledgerAttempts: 3 },
        retryNumber: 1,
      });
      expect(ledger.failureCalls.map(({ attempt, failure: f }) => [attempt, f.status, f.outcome, f.quiet])).toEqual([
        [1, 'retrying', 'rate_limited', true],
        [2, 'retrying', 'rate_limited', true],
        // The delivery event this time: a retry on the schedule comes.
        [3, 'retrying', 'rate_limited', undefined],
      ]);
      expect(transport.mails).toHaveLength(3);
      expect(metrics.pausedSeconds).toEqual([PAUSE_MS / 1000, (2 * PAUSE_MS) / 1000, (4 * PAUSE_MS) / 1000]);
    });

    it('then a resend after an unknown outcome that is turned away keeps the first Message-ID on its next try', async () => {
      // Arrange: the earlier send's outcome is unknown; this event (another id) resends it
      const { worker, ledger, transport } = workerHarness({ rateLimitPauseMs: PAUSE_MS });
      const event = sampleEvent();
      ledger.seed(event.order.orderId, {
        status: 'sending',
        attempts: 1,
        messageId: '<first@mail.shop.example>',
        sendingStartedAt: new Date(ledger.now.getTime() - GRACE_MS),
      });
      transport.nextFails(rateLimited());

      // Act
      const outcome = await worker.process(event, freshHistory());

      // Assert
      expect(outcome).toMatchObject({ action: 'ack', result: 'sent' });
      expect(transport.mails.map((mail) => mail.messageId)).toEqual([
        '<first@mail.shop.example>',
        '<first@mail.shop.example>',
      ]);
      expect(ledger.rowOf(event.order.orderId)).toMatchObject({
        status: 'sent',
        attempts: 3,
        unknownOutcomeResends: 1,
      });
    });

    it('then the worker’s other messages wait for the pause too, before their claim', async () => {
      // Arrange
      const { worker, ledger, transport, metrics } = workerHarness({ rateLimitPauseMs: PAUSE_MS });
      let turnedAwayAt = 0;
      transport.nextSend(() => {
        turnedAwayAt = Date.now();
        return Promise.reject(new SendFailureError(rateLimited()));
      });
      const first = worker.process(orderEvent('A-1'), freshHistory());
      await until(() => metrics.rateLimitedCount === 1);

      // Act: another message arrives during the pause
      const second = worker.process(orderEvent('B-1'), freshHistory());
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS / 4));
      const claimedDuringPause = ledger.claims.map((claim) => claim.orderId);
      const outcomes = await Promise.all([first, second]);

      // Assert
      expect(outcomes.map(summary)).toEqual(['ack sent', 'ack sent']);
      expect(claimedDuringPause).toEqual(['A-1']);
      expect(transport.mails.map((mail) => mail.headers['X-Order-Id']).sort()).toEqual(['A-1', 'A-1', 'B-1']);
      for (const at of transport.sentAt.slice(1)) expect(at - turnedAwayAt).toBeGreaterThanOrEqual(AFTER_PAUSE_MS);
    });

    it('then the sends in flight turned away together start one pause, not one each', async () => {
      // Arrange: two sends held in flight, then both turned away
      const { worker, transport, metrics, logs } = workerHarness({ rateLimitPauseMs: PAUSE_MS });
      const gate = deferred();
      const turnedAway = () => gate.promise.then(() => Promise.reject(new SendFailureError(rateLimited())));
      transport.nextSend(turnedAway).nextSend(turnedAway);
      const both = ['A-1', 'B-1'].map((orderId) => worker.process(orderEvent(orderId), freshHistory()));
      await until(() => transport.mails.length === 2);

      // Act
      gate.resolve();
      const outcomes = await Promise.all(both);

      // Assert
      expect(outcomes.map(summary)).toEqual(['ack sent', 'ack sent']);
      expect(metrics.rateLimitedCount).toBe(2);
      expect(metrics.pausedSeconds).toEqual([PAUSE_MS / 1000]);
      expect(transport.mails).toHaveLength(4);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: PINO_WARN,
          msg: 'SMTP server limits our sending rate; this worker is already pausing its sends',
        }),
      );
    });

    it('then, once a send after the pause is accepted, the next rate-limit reply pauses for the first length again', async () => {
      // Arrange
      const { worker, transport, metrics } = workerHarness({ rateLimitPauseMs: PAUSE_MS });
      transport.nextFails(rateLimited());
      await worker.process(orderEvent('A-1'), freshHistory());
      transport.nextFails(rateLimited());

      // Act
      await worker.process(orderEvent('B-1'), freshHistory());

      // Assert
      expect(metrics.pausedSeconds).toEqual([PAUSE_MS / 1000, PAUSE_MS / 1000]);
    });
  });

  describe('with a shared cap on sends per second (SMTP_MAX_RATE)', () => {
    /** Lets promises and timers run until `done()` holds (at most 2 s). */
    async function until(done: () => boolean): Promise<void> {
      for (const deadline = Date.now() + 2000; !done();) {
        if (Date.now() > deadline) throw new Error('condition not reached');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }

    it('then a message waits for its token before its claim, and the wait is measured', async () => {
      // Arrange: no token to be had yet
      const limiter = new FakeRateLimiter();
      limiter.hold();
      const { worker, ledger, transport, metrics } = workerHarness({ rateLimiter: limiter });
      const processing = worker.process(sampleEvent(), freshHistory());
      await until(() => limiter.waiting() === 1);
      const claimsWhileWaiting = ledger.claims.length;

      // Act
      limiter.release();
      const outcome = await processing;

      // Assert
      expect(claimsWhileWaiting).toBe(0);
      expect(outcome).toMatchObject({ action: 'ack', result: 'sent' });
      expect(limiter.taken).toHaveLength(1);
      expect(transport.mails).toHaveLength(1);
      expect(metrics.sendRateWaits).toHaveLength(1);
    });

    it('when the shared count cannot be read, then the message fails as an internal error with nothing claimed or sent', async () => {
      // Arrange
      const limiter = new FakeRateLimiter();
      limiter.failWith = new Error(
        'SMTP_MAX_RATE: the shared send count cannot be read from PostgreSQL (ECONNREFUSED)',
      );
      const { worker, ledger, transport } = workerHarness({ rateLimiter: limiter });

      // Act
      const processing = worker.process(sampleEvent(), freshHistory());

      // Assert
      await expect(processing).rejects.toThrow('SMTP_MAX_RATE');
      expect(ledger.claims).toEqual([]);
      expect(transport.mails).toEqual([]);
    });

    it('when a token comes while a rate-limit pause began, then it is dropped and another taken after the pause', async () => {
      // Arrange: A holds a token and is in flight; B waits for a token
      const PAUSE_MS = 40;
      const limiter = new FakeRateLimiter();
      const { worker, transport, metrics } = workerHarness({ rateLimiter: limiter, rateLimitPauseMs: PAUSE_MS });
      let turnedAwayAt = 0;
      let letGo!: () => void;
      const gate = new Promise<void>((resolve) => (letGo = resolve));
      transport.nextSend(async () => {
        await gate;
        turnedAwayAt = Date.now();
        throw new SendFailureError(
          sendFailure(
            { code: 'EMESSAGE', responseCode: 451, permanentReply: false, stage: 'after-final-dot' },
            'x',
            '451 4.7.1 rate exceeded',
          ),
        );
      });
      const first = worker.process(sampleEvent({ order: sampleOrder({ orderId: 'A-1' }) }), freshHistory());
      await until(() => transport.mails.length === 1);
      limiter.hold();
      const second = worker.process(sampleEvent({ order: sampleOrder({ orderId: 'B-1' }) }), freshHistory());
      await until(() => limiter.waiting() === 1);

      // Act: A is turned away (the pause starts), then B's token comes
      letGo();
      await until(() => metrics.rateLimitedCount === 1);
      limiter.release();
      const outcomes = await Promise.all([first, second]);

      // Assert: A, B's dropped token, then A's resend and B's send after the pause
      expect(outcomes.map(summary)).toEqual(['ack sent', 'ack sent']);
      expect(limiter.taken).toHaveLength(4);
      expect(transport.mails).toHaveLength(3);
      for (const at of transport.sentAt.slice(1)) expect(at - turnedAwayAt).toBeGreaterThanOrEqual(PAUSE_MS - 2);
    });
  });
});
