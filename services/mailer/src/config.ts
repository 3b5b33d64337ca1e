import { hostname } from 'node:os';
import addressparser from 'nodemailer/lib/addressparser';
import { z } from 'zod';
import { findForbiddenCharacter, normalizeEmailAddress } from '@order-mail/shared/contract';
import {
  HEADERS_WITHIN_REQUEST_TIMEOUT,
  MAX_DURATION_MS,
  amqpNameSchema,
  commonConfigSchema,
  durationFormat,
  durationMsSchema,
  parseConfig,
  parseAmqpNodeList,
  parseDuration,
  portSchema,
} from '@order-mail/shared/config';
import type { ShopIdentity } from './domain/order-email';
import { DEFAULT_RATE_LIMIT_PAUSE_MS, MAX_RATE_LIMIT_PAUSE_MS } from './domain/send-pause';

/** A number of whole days from 1 to 3650 in an environment string (`30`; no unit), `fallback` when unset. */
function wholeDaysSchema(fallback: number) {
  return z
    .string()
    .regex(/^[0-9]{1,4}$/, { message: `must be a whole number of days from 1 to 3650, e.g. ${fallback} (no unit)` })
    .transform(Number)
    .pipe(z.number().int().min(1).max(3650))
    .default(fallback);
}
/** A whole number from `min` to `max` in an environment string (`14`; no unit, sign or decimals). */
function wholeNumberSchema(min: number, max: number, example: number) {
  return z
    .string()
    .regex(/^[0-9]{1,9}$/, { message: `must be a whole number from ${min} to ${max}, e.g. ${example}` })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

/** What is wrong with one RETRY_DELAYS entry, or null when it is a duration of 1 ms to `MAX_DURATION_MS`. */
function retryDelayProblem(text: string): string | null {
  const ms = parseDuration(text);
  if (ms === null || ms < 1) return 'is not a positive duration';
  return ms > MAX_DURATION_MS ? 'is over 596h' : null;
}

/**
 * RETRY_DELAYS: 1-20 comma-separated durations (`parseDuration`), each 1 ms to `MAX_DURATION_MS`;
 * milliseconds out. The message names the first bad entry by position and text.
 */
const retryDelaysSchema = z.string().transform((value, ctx) => {
  const entries = value.split(',');
  const forms = `must be a comma-separated list of 1-20 positive durations such as "30s,2m,10m,1h,6h", each ${durationFormat()} and at most 596h`;
  const bad = entries.map((text, i) => ({ i, text, problem: retryDelayProblem(text) })).find((e) => e.problem);
  if (entries.length > 20 || bad) {
    const which = bad
      ? `: entry ${bad.i + 1} (${JSON.stringify(bad.text.trim())}) ${bad.problem}`
      : `: it has ${entries.length}`;
    ctx.addIssue({ code: 'custom', message: `${forms}${which}` });
    return z.NEVER;
  }
  return entries.map((text) => parseDuration(text) as number);
});

// What the address of a mailbox must look like once parsed: one "@", neither side empty, no
// white space or angle brackets (addressparser hands back what it could not make sense of, e.g.
// `not an address` for `Name <not an address>`, rather than refusing it).
const MAILBOX_ADDRESS = /^[^<>\s@]+@[^<>\s@]+$/;

/**
 * The address of a `From:` value as nodemailer reads it when it sends (its `addressparser`), if
 * the value is exactly one mailbox, a bare address or `Name <address>`; `undefined` for a list,
 * a group, or a mailbox without a usable address.
 */
function mailFromAddress(value: string): string | undefined {
  const entries = addressparser(value);
  const [entry] = entries;
  if (entries.length !== 1 || entry.group !== undefined || !MAILBOX_ADDRESS.test(entry.address)) return undefined;
  // addressparser makes sense of typos (`<a@b.example` unclosed, `Name <a b@c.example>` read as
  // `b@c.example`); a From: that is not exactly what we send is refused instead of guessed at.
  const trimmed = value.trim();
  const exact = trimmed.includes('<') ? trimmed.endsWith(`<${entry.address}>`) : trimmed === entry.address;
  return exact ? entry.address : undefined;
}

/**
 * The display name of a `From:` value (`Shop <orders@shop.example>` → `Shop`), or its address's
 * domain when it has none (`orders@shop.example` → `shop.example`): SHOP_NAME's default.
 */
function shopNameFrom(mailFrom: string, address: string): string {
  const [entry] = addressparser(mailFrom);
  const name = entry?.name?.trim();
  return name ? name : address.slice(address.lastIndexOf('@') + 1);
}

/**
 * WEBHOOK_URL: an http(s) URL with a host, without white space, credentials or fragment (the
 * receiver authenticates us by the signature, not by a password in the URL).
 */
const webhookUrlSchema = z.string().refine(
  (v) => {
    // The text itself, not only what URL makes of it: URL reads `https:/hooks` as host `hooks`.
    const shape = /^https?:\/\/[^/?#@\s]+([/?][^#\s]*)?$/i.test(v);
    const url = URL.parse(v);
    return shape && url !== null && url.hostname !== '';
  },
  { message: 'must be an http:// or https:// URL with a host (no white space, credentials or #fragment)' },
);

/**
 * WEBHOOK_SECRET: one or more signing secrets separated by spaces, each `whsec_` and the base64 of
 * 24-64 random bytes (Standard Webhooks 1.0.0, "Signature scheme": at least 24 bytes, at most 64);
 * every one signs each webhook, so a receiver can move to a new secret without a gap (list the new
 * one first, drop the old one later). Out: the secrets as given.
 */
const webhookSecretSchema = z.string().transform((value, ctx) => {
  const secrets = value.trim().split(/\s+/);
  const form =
    'must be whsec_ followed by the padded base64 of 24-64 random bytes, e.g. from `echo "whsec_$(openssl rand -base64 32)"` ' +
    '(several, space-separated, while a receiver moves to a new one)';
  const bad = secrets.findIndex((s) => {
    const body = s.startsWith('whsec_') ? s.slice('whsec_'.length) : null;
    // Padded standard base64 only: what every receiver's library (not only Node's) decodes.
    const base64 = body !== null && body.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(body);
    const bytes = base64 ? Buffer.from(body, 'base64').length : 0;
    return bytes < 24 || bytes > 64;
  });
  if (value.trim() === '' || bad >= 0) {
    // Which one, never its value: it is a secret.
    const which = secrets.length > 1 && bad >= 0 ? ` (secret ${bad + 1} of ${secrets.length} is not)` : '';
    ctx.addIssue({ code: 'custom', message: `${form}${which}` });
    return z.NEVER;
  }
  return secrets;
});

/**
 * QUORUM_INITIAL_GROUP_SIZE's default: the nodes AMQP_URL lists, at most 3 (a quorum of 3 survives
 * one node's loss; more replicas cost writes), or undefined for a single URL (RabbitMQ decides).
 */
function defaultQuorumGroupSize(amqpUrl: string): number | undefined {
  const parsed = parseAmqpNodeList(amqpUrl);
  const nodes = parsed.ok ? parsed.urls.length : 1;
  return nodes > 1 ? Math.min(3, nodes) : undefined;
}

/** An https URL with a host and no white space, user name or password (a link or image of the email). */
const httpsUrlSchema = z.string().refine(
  (v) => {
    const url = URL.parse(v);
    return !/\s/.test(v) && url?.protocol === 'https:' && url.hostname !== '' && url.username === '' && !url.password;
  },
  { message: 'must be an https:// URL (with a host, without white space or credentials)' },
);

/** One line of text shown in the email: no control, line-separator or bidi-override characters. */
function singleLineSchema(max: number) {
  return z
    .string()
    .max(max)
    .superRefine((v, ctx) => {
      const forbidden = findForbiddenCharacter(v);
      if (forbidden) ctx.addIssue({ code: 'custom', message: `must be one line of text: ${forbidden.message}` });
    })
    .transform((v) => v.trim());
}

/** A bare email address (`support@shop.example`), as the order contract accepts them; normalised. */
const bareAddressSchema = z.string().transform((v, ctx) => {
  const result = normalizeEmailAddress(v.trim());
  if (result.ok) return result.address;
  ctx.addIssue({
    code: 'custom',
    message: `must be an email address such as support@shop.example (${result.message})`,
  });
  return z.NEVER;
});

/**
 * Every setting of the mailer, read from the environment: the keys both services share
 * (`commonConfigSchema`: HOST, the broker's, the timeouts, LOG_LEVEL) and the mailer's own.
 * `.env.example` mirrors this list.
 */
export const mailerConfigSchema = commonConfigSchema
  .extend({
    /** HTTP port for health, readiness and metrics. */
    PORT: portSchema.default(3001),
    /** The mailer's work queue (quorum). */
    MAILER_QUEUE: amqpNameSchema.default('mailer.order.confirmed'),
    /** Exchange that failed messages are dead-lettered to. */
    DEAD_LETTER_EXCHANGE: amqpNameSchema.default('mailer.dead-letter'),
    /** Queue the dead letters wait in until the mailer records them in PostgreSQL (table `dead_letters`). */
    DEAD_LETTER_QUEUE: amqpNameSchema.default('mailer.order.confirmed.dead'),
    /** Topic exchange the delivery events go to (`email.sent`, `email.retrying`, `email.dead_lettered`, `email.suppressed`). */
    MAIL_EVENTS_EXCHANGE: amqpNameSchema.default('mail.events'),
    /** Deliveries of one message before the broker dead-letters it (guards against crash loops). */
    DELIVERY_LIMIT: z.coerce.number().int().min(1).max(1000).default(20),
    /**
     * Nodes each new quorum queue is replicated on (`x-quorum-initial-group-size`, 1-7); defaults
     * to the number of nodes in AMQP_URL, at most 3, when it lists several, else RabbitMQ's default.
     * A queue that already exists keeps its size.
     */
    QUORUM_INITIAL_GROUP_SIZE: z.coerce.number().int().min(1).max(7).optional(),
    /** Messages handled at once (AMQP prefetch); keep it at or above SMTP_POOL_SIZE. */
    PREFETCH: z.coerce.number().int().min(1).max(1000).default(10),
    /** Delay before each retry of a transient failure; after the last one the message is dead-lettered. */
    RETRY_DELAYS: retryDelaysSchema.default([30_000, 120_000, 600_000, 3_600_000, 21_600_000]),
    /**
     * How long a send whose outcome is unknown (connection lost after the whole message went out,
     * or a redelivered event still marked `sending`) waits before its one resend. Must exceed
     * SMTP_SEND_TIMEOUT_MS.
     */
    UNKNOWN_OUTCOME_GRACE_MS: durationMsSchema.default(600_000),
    /** PostgreSQL holding the delivery ledger. */
    DATABASE_URL: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), { message: 'must be a postgres:// URL' })
      .default('postgres://postgres@127.0.0.1:5432/test'),
    /** Schema of the ledger's tables (created by the migrations at start-up). */
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
      .default('mailer'),
    /** Dead letters moved back to the work queue per second during a replay. */
    REPLAY_RATE_PER_SECOND: z.coerce.number().int().min(1).max(10_000).default(50),
    /** Whole days (1-3650): replayed and purged dead-letter records older than this are deleted, hourly. */
    DEAD_LETTER_RETENTION_DAYS: wholeDaysSchema(30),
    /**
     * Whole days (1-3650): ledger rows last changed longer ago lose their personal data, hourly
     * (recipient, its hash, subject, SMTP replies and error texts); the order id and status stay,
     * so an old order is still never sent twice.
     */
    LEDGER_PII_RETENTION_DAYS: wholeDaysSchema(90),
    /**
     * Where the delivery events are also POSTed as webhooks (Standard Webhooks: signed with
     * WEBHOOK_SECRET, retried with backoff, each attempt logged); unset, no webhooks are sent.
     * The same on every mailer.
     */
    WEBHOOK_URL: webhookUrlSchema.optional(),
    /** Signing secret(s) of the webhooks, required with WEBHOOK_URL: `whsec_` + base64 of 24-64 random bytes; several, space-separated, sign each webhook during a rotation. */
    WEBHOOK_SECRET: webhookSecretSchema.optional(),
    /** Limit for one webhook POST, from sending it to the receiver's answer (the specification recommends 15-30 s). */
    WEBHOOK_TIMEOUT_MS: durationMsSchema.default(15_000),
    /** Delay before each new attempt of a webhook the receiver did not take (± 10 % jitter); after the last one it is marked failed. */
    WEBHOOK_RETRY_DELAYS: retryDelaysSchema.default([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000,
    ]),
    /** Webhook POSTs one mailer has under way at once. */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
    /**
     * Whole days (1-3650): delivered and failed webhook deliveries (and their attempt log) last
     * changed longer ago are deleted, hourly; never later than LEDGER_PII_RETENTION_DAYS, since
     * they hold the recipient. Pending ones are never deleted by age.
     */
    WEBHOOK_LOG_RETENTION_DAYS: wholeDaysSchema(30),
    /**
     * Bearer token of the admin API (/deliveries, /dead-letters, /suppressions, /recipients, /webhook-deliveries, POST /preview): `Authorization: Bearer <token>`.
     * Unset, the admin API is off (403 `admin_api_disabled`); health, readiness and metrics stay open.
     */
    ADMIN_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    /** Test-only fault injection, off unless set: pause this long between recording a sent email and acking it. */
    FAULT_PAUSE_BEFORE_ACK_MS: durationMsSchema.optional(),
    /** Test-only fault injection, off unless set: pause this long between the SMTP server's acceptance and the ledger's record of it. */
    FAULT_PAUSE_BEFORE_RECORD_MS: durationMsSchema.optional(),
    /** Test-only fault injection, off unless set: pause this long between reading delivery events from the outbox and publishing them. */
    FAULT_PAUSE_BEFORE_RELAY_MS: durationMsSchema.optional(),
    /** SMTP server, `smtp://user:pass@host:port` or `smtps://…` for implicit TLS. */
    SMTP_URL: z
      .string()
      .refine((v) => /^smtps?:\/\/[^\s]+$/.test(v), { message: 'must be an smtp:// or smtps:// URL' })
      .default('smtp://127.0.0.1:1025'),
    /** Pooled SMTP connections. */
    SMTP_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5),
    /** Limit for opening a TCP connection to the SMTP server. */
    SMTP_CONNECTION_TIMEOUT_MS: durationMsSchema.default(10000),
    /** Limit for the server's greeting after connecting. */
    SMTP_GREETING_TIMEOUT_MS: durationMsSchema.default(10000),
    /** Limit for an idle socket during a send. */
    SMTP_SOCKET_TIMEOUT_MS: durationMsSchema.default(30000),
    /**
     * Limit for one whole send, from handing it to the pool (where it may wait for a free
     * connection) to the server's final reply; a send still running then is aborted.
     */
    SMTP_SEND_TIMEOUT_MS: durationMsSchema.default(120_000),
    /**
     * How often the SMTP server is checked (connect, greet, authenticate) while it is ready, so
     * `/readyz` and `mailer_smtp_up` notice a server that went away before the next order does.
     * A check uses a connection of its own, never one of the pool's. (While it is not ready, it is
     * checked every 5 s.)
     */
    SMTP_CHECK_INTERVAL_MS: durationMsSchema.default(30_000),
    /**
     * Most emails per second, all mailers on the same DATABASE_SCHEMA together (a whole number
     * 1-10000, counted in PostgreSQL); unset, no cap. Set it to the relay's quota (e.g. SES's
     * maximum send rate), the same on every mailer.
     */
    SMTP_MAX_RATE: wholeNumberSchema(1, 10_000, 14).optional(),
    /**
     * How long a mailer pauses its sends after the SMTP server turned one away for our rate
     * (421/451/454 saying "rate" or with a 4.7.x code); doubles while such replies keep coming,
     * up to 1 min. At most 1 min.
     */
    SMTP_RATE_LIMIT_PAUSE_MS: durationMsSchema
      .refine((ms) => ms <= MAX_RATE_LIMIT_PAUSE_MS, { message: 'must be at most 1m (60000 ms)' })
      .default(DEFAULT_RATE_LIMIT_PAUSE_MS),
    /** `From:` of every email: `Name <address>` or a bare address, one mailbox as nodemailer reads it. */
    MAIL_FROM: z
      .string()
      .refine((v) => mailFromAddress(v) !== undefined, { message: 'must be an address or "Name <address>"' })
      .default('Order Confirmations <orders@example.com>'),
    /** The shop's name in the email's header and footer; defaults to MAIL_FROM's display name, else its domain. */
    SHOP_NAME: singleLineSchema(100).optional(),
    /** The shop's website (https), linked from the email's logo or name; optional. */
    SHOP_URL: httpsUrlSchema.optional(),
    /** The shop's logo (https URL of an image, shown about 160 px wide) in the email's header; optional, else the name shows. */
    SHOP_LOGO_URL: httpsUrlSchema.optional(),
    /** The email's brand colour (`#rrggbb`): the heading's rule and the button; keep white text readable on it. */
    BRAND_COLOR: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, { message: 'must be a colour as #rrggbb, e.g. #1f5fa8' })
      .transform((v) => v.toLowerCase())
      .default('#1f5fa8'),
    /** Address the email names for questions (its support line); optional. */
    SUPPORT_EMAIL: bareAddressSchema.optional(),
    /** The company's postal address, one line, in the email's footer; optional. */
    COMPANY_ADDRESS: singleLineSchema(300).optional(),
    /** `Reply-To:` of every email: an address or `Name <address>`; defaults to SUPPORT_EMAIL, else none. */
    REPLY_TO: z
      .string()
      .refine((v) => mailFromAddress(v) !== undefined, { message: 'must be an address or "Name <address>"' })
      .optional(),
    /** Domain of generated Message-IDs; defaults to MAIL_FROM's domain. */
    MESSAGE_ID_DOMAIN: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a domain name' })
      .optional(),
    /** Identifies this worker in logs and dead-letter headers. */
    WORKER_ID: z.string().min(1).max(100).default(`${hostname()}-${process.pid}`),
  })
  .refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, HEADERS_WITHIN_REQUEST_TIMEOUT)
  .refine((c) => c.WEBHOOK_URL === undefined || c.WEBHOOK_SECRET !== undefined, {
    // An unsigned webhook cannot be told from a forged one.
    message: 'is required when WEBHOOK_URL is set (webhooks are always signed)',
    path: ['WEBHOOK_SECRET'],
  })
  .refine((c) => c.UNKNOWN_OUTCOME_GRACE_MS > c.SMTP_SEND_TIMEOUT_MS, {
    // A send still running when its grace period ends could be resent while it succeeds.
    message: 'must exceed SMTP_SEND_TIMEOUT_MS, the longest a send can last',
    path: ['UNKNOWN_OUTCOME_GRACE_MS'],
  })
  .transform((c) => {
    // MAIL_FROM passed its check above, so it has an address.
    const fromAddress = mailFromAddress(c.MAIL_FROM) ?? '';
    return {
      ...c,
      MESSAGE_ID_DOMAIN: c.MESSAGE_ID_DOMAIN ?? fromAddress.slice(fromAddress.lastIndexOf('@') + 1),
      SHOP_NAME: c.SHOP_NAME ?? shopNameFrom(c.MAIL_FROM, fromAddress),
      REPLY_TO: c.REPLY_TO ?? c.SUPPORT_EMAIL,
      QUORUM_INITIAL_GROUP_SIZE: c.QUORUM_INITIAL_GROUP_SIZE ?? defaultQuorumGroupSize(c.AMQP_URL),
    };
  });

export type MailerConfig = z.output<typeof mailerConfigSchema>;

/** The shop as the emails present it, from the mailer's settings (SHOP_*, BRAND_COLOR, SUPPORT_EMAIL, COMPANY_ADDRESS). */
export function shopIdentityFromConfig(config: MailerConfig): ShopIdentity {
  return {
    name: config.SHOP_NAME,
    url: config.SHOP_URL,
    logoUrl: config.SHOP_LOGO_URL,
    brandColor: config.BRAND_COLOR,
    supportEmail: config.SUPPORT_EMAIL,
    companyAddress: config.COMPANY_ADDRESS,
  };
}

/**
 * Reads and validates the mailer's settings from `env`. Throws an AppError `ERR_CONFIG_INVALID`
 * naming each bad key (see `parseConfig`).
 */
export function loadMailerConfig(env: NodeJS.ProcessEnv = process.env): MailerConfig {
  return parseConfig(mailerConfigSchema, env);
}
