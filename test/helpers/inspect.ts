import { eventually } from './broker';
import { query } from './database';

export interface LedgerRow {
  order_id: string;
  status: string;
  attempts: number;
  last_error_class: string | null;
  smtp_code: number | null;
  unknown_outcome_resends: number;
}

export interface AttemptRow {
  attempt: number;
  outcome: string | null;
  smtp_code: number | null;
}

export async function ledgerRow(schema: string, orderId: string): Promise<LedgerRow | undefined> {
  const [row] = await query<LedgerRow>(`SELECT * FROM "${schema}".deliveries WHERE order_id = $1`, [orderId]);
  return row;
}

export async function ledgerAttempts(schema: string, orderId: string): Promise<AttemptRow[]> {
  return query<AttemptRow>(
    `SELECT a.attempt, a.outcome, a.smtp_code FROM "${schema}".delivery_attempts a
     JOIN "${schema}".deliveries d ON d.id = a.delivery_id WHERE d.order_id = $1 ORDER BY a.attempt`,
    [orderId],
  );
}

/** A dead letter as the mailer recorded it in its `dead_letters` table, shaped like the message it was. */
export interface RecordedDeadLetter {
  id: string;
  state: string;
  reason: string;
  content: Buffer;
  properties: { messageId?: string; headers?: Record<string, unknown> } & Record<string, unknown>;
}

/**
 * The dead letters the mailer recorded in `schema` (oldest first), waiting until at least `count`
 * are there: the mailer consumes its dead-letter queue into the table, so tests look there.
 */
export async function recordedDeadLetters(schema: string, count: number, timeoutMs = 15000) {
  let rows: RecordedDeadLetter[] = [];
  await eventually(
    async () => {
      rows = await deadLetterRows(schema);
      return rows.length >= count;
    },
    timeoutMs,
    `${count} dead letter(s) recorded in ${schema}.dead_letters`,
  );
  return rows;
}

/** Every dead letter recorded in `schema` now, oldest first (none before the migrations ran). */
export async function deadLetterRows(schema: string): Promise<RecordedDeadLetter[]> {
  const rows = await query<{
    id: string;
    state: string;
    reason: string;
    body: Buffer;
    properties: Record<string, unknown>;
    headers: Record<string, unknown>;
  }>(`SELECT id, state, reason, body, properties, headers FROM "${schema}".dead_letters ORDER BY id`).catch(
    (err: { code?: string }) => {
      if (err.code === '42P01') return []; // not migrated yet
      throw err;
    },
  );
  return rows.map((r) => ({
    id: r.id,
    state: r.state,
    reason: r.reason,
    content: r.body,
    properties: { ...r.properties, headers: r.headers },
  }));
}

/** The value of one sample in a Prometheus text exposition (the first whose labels include `labels`), 0 if absent. */
export async function metricValue(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Emails acked without sending because the ledger had the order as sent. */
export const duplicatesSkipped = (baseUrl: string) =>
  metricValue(baseUrl, 'mailer_emails_total', { result: 'duplicate_skipped' });

export const subjectOf = (orderId: string) => `Your order ${orderId} is confirmed`;
