import { MAIL_EVENT_SCHEMA_VERSION, type MailEvent, type MailEventType } from '@order-mail/shared/contract';

/**
 * A delivery event waiting in the outbox (table `mail_events_outbox`), written by the ledger in
 * the same transaction as the change it reports. `id` orders the outbox (a bigint, as a string).
 */
export interface OutboxEntry {
  id: string;
  eventId: string;
  type: MailEventType;
  orderId: string;
  orderEventId: string;
  messageId: string | null;
  recipient: string | null;
  status: MailEvent['status'];
  attempt: number;
  smtpCode: number | null;
  smtpResponse: string | null;
  reason: string | null;
  occurredAt: Date;
}

/**
 * The event as published (`mailEventSchema` of `@order-mail/shared/contract`): absent optional
 * fields are left out rather than null, `occurredAt` in ISO 8601 UTC. Pure.
 */
export function toMailEvent(entry: OutboxEntry): MailEvent {
  return {
    schemaVersion: MAIL_EVENT_SCHEMA_VERSION,
    type: entry.type,
    eventId: entry.eventId,
    occurredAt: entry.occurredAt.toISOString(),
    orderId: entry.orderId,
    orderEventId: entry.orderEventId,
    messageId: entry.messageId,
    recipient: entry.recipient,
    status: entry.status,
    attempt: entry.attempt,
    ...(entry.smtpCode !== null && { smtpCode: entry.smtpCode }),
    ...(entry.smtpResponse !== null && { smtpResponse: entry.smtpResponse }),
    ...(entry.reason !== null && { reason: entry.reason }),
  };
}

/** How far behind the relay is: events waiting in the outbox, and the age of the oldest in seconds (0 when none). */
export interface OutboxStats {
  pending: number;
  oldestAgeSeconds: number;
}

/**
 * The outbox as the relay uses it; the PostgreSQL adapter implements it (`outbox-pg.ts`).
 * Only one relay at a time may publish (that keeps each order's events in order): `tryLead`
 * makes this process that one, for as long as its lease holds.
 */
export interface Outbox {
  /** Takes the relay's lease (a PostgreSQL advisory lock), or resolves null when another mailer holds it. */
  tryLead(): Promise<OutboxLease | null>;
  stats(): Promise<OutboxStats>;
}

/** The relay's lease: while it holds, no other mailer reads or removes outbox entries. */
export interface OutboxLease {
  /** The oldest `limit` entries, in id order. */
  next(limit: number): Promise<OutboxEntry[]>;
  /**
   * Removes published entries; when webhooks are on, makes a webhook delivery of each in the same
   * statement (one per event, however often a batch is relayed) from `events`, the entries as
   * published (`toMailEvent`, same order).
   */
  remove(entries: readonly OutboxEntry[], events: readonly MailEvent[]): Promise<void>;
  /** False once the lease's connection failed: release it and lead again. */
  holds(): boolean;
  /** Gives the lease up (unlocks, returns the connection); never rejects. */
  release(): Promise<void>;
}
