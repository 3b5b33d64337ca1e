import { z } from 'zod';

/**
 * Delivery events: what the mailer tells the shop's own systems about each email, published to
 * the topic exchange `MAIL_EVENTS_EXCHANGE` (default `mail.events`) with the event's `type` as
 * routing key, persistent, as JSON (`content-type: application/json`, AMQP `messageId` and
 * `type` set to `eventId` and `type`), and, when WEBHOOK_URL is set, as signed HTTP POSTs.
 *
 * Delivery is at least once: a consumer may see an event twice and deduplicates on `eventId`.
 * Events of one order arrive in the order they happened. Any change to the shape bumps
 * MAIL_EVENT_SCHEMA_VERSION; new optional fields may be added within a version, so consumers
 * should ignore fields they do not know. The JSON Schema is `docs/mail-event.schema.json`
 * (generated from `mailEventSchema`; a test keeps it in step).
 */
export const MAIL_EVENT_SCHEMA_VERSION = 1;

/**
 * - `email.sent`: the SMTP server accepted the email (final);
 * - `email.retrying`: an attempt failed transiently (a 4xx reply, a lost connection): another
 *   comes after the retry delay;
 * - `email.dead_lettered`: the email will not be sent unless an operator replays its dead letter
 *   (`reason` says why: `smtp_rejected`, `retries_exhausted`, `outcome_unknown`, …);
 * - `email.suppressed`: the recipient is on the suppression list; nobody was contacted (final).
 */
export const MAIL_EVENT_TYPES = ['email.sent', 'email.retrying', 'email.dead_lettered', 'email.suppressed'] as const;
export type MailEventType = (typeof MAIL_EVENT_TYPES)[number];

/** The ledger status an event leaves the delivery in, per type. */
export const MAIL_EVENT_STATUS = {
  'email.sent': 'sent',
  'email.retrying': 'retrying',
  'email.dead_lettered': 'dead',
  'email.suppressed': 'suppressed',
} as const satisfies Record<MailEventType, string>;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** One delivery event, as published (see the module's docstring for how it travels). */
export const mailEventSchema = z
  .strictObject({
    schemaVersion: z.literal(MAIL_EVENT_SCHEMA_VERSION).describe('Bumped on any incompatible change.'),
    type: z.enum(MAIL_EVENT_TYPES).describe('What happened; also the routing key.'),
    eventId: z.uuid().describe('Unique per event and stable across redeliveries: deduplicate on it.'),
    occurredAt: z
      .string()
      .regex(ISO_INSTANT)
      .describe('When the ledger recorded it, ISO 8601 in UTC (the database clock).'),
    orderId: z.string().min(1).describe('The order, as the shop posted it.'),
    orderEventId: z.string().min(1).describe('The order-confirmed event that led to this attempt (its eventId).'),
    messageId: z
      .string()
      .nullable()
      .describe('The email’s Message-ID header (with angle brackets); null when none was built.'),
    recipient: z
      .string()
      .nullable()
      .describe(
        'The recipient’s address; null when the person’s data was erased (DELETE /recipients/:address) before the event went out.',
      ),
    status: z
      .enum(['sent', 'retrying', 'dead', 'suppressed'])
      .describe('The delivery’s ledger status after this event.'),
    attempt: z.number().int().min(0).describe('The ledger’s attempt number (0: no attempt was made).'),
    smtpCode: z.number().int().optional().describe('The SMTP reply code, when the server replied.'),
    smtpResponse: z.string().optional().describe('The SMTP reply text, when the server replied.'),
    reason: z
      .string()
      .optional()
      .describe('Why: the dead-letter reason, the failure class of a retry, or `suppressed`.'),
  })
  .describe('A delivery event of order-mail (mail.events).');

/** A delivery event (`mailEventSchema`). */
export type MailEvent = z.infer<typeof mailEventSchema>;
