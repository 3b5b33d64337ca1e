import type { DeliveryRecord, DeliveryStatus } from '../../domain/delivery-ledger';

/** A `deliveries` row as pg returns it (bigint ids come back as strings). */
export interface DeliveryRow {
  id: string;
  event_kind: string;
  order_id: string;
  event_id: string;
  correlation_id: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  last_error_class: string | null;
  smtp_code: number | null;
  smtp_response: string | null;
  message_id: string | null;
  worker_id: string | null;
  unknown_outcome_resends: number;
  created_at: Date;
  updated_at: Date;
  sending_started_at: Date | null;
  sent_at: Date | null;
  recipient: string | null;
  recipient_hash: string | null;
  subject: string | null;
  template: string | null;
  locale: string | null;
}

/** The ledger row as the domain sees it. */
export function toRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: Number(row.id),
    eventKind: row.event_kind,
    orderId: row.order_id,
    eventId: row.event_id,
    correlationId: row.correlation_id,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    lastErrorClass: row.last_error_class,
    smtpCode: row.smtp_code,
    smtpResponse: row.smtp_response,
    messageId: row.message_id,
    workerId: row.worker_id,
    unknownOutcomeResends: row.unknown_outcome_resends,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    sendingStartedAt: row.sending_started_at,
    sentAt: row.sent_at,
    recipient: row.recipient,
    subject: row.subject,
    template: row.template,
    locale: row.locale,
  };
}
