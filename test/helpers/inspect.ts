import type * as amqp from 'amqplib';
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

/** Takes the dead letters off a queue (acking them), waiting until `count` have arrived. */
export async function takeDeadLetters(channel: amqp.Channel, queue: string, count: number, timeoutMs = 15000) {
  const taken: amqp.GetMessage[] = [];
  await eventually(
    async () => {
      for (;;) {
        const msg = await channel.get(queue, { noAck: true });
        if (!msg) break;
        taken.push(msg);
      }
      return taken.length >= count;
    },
    timeoutMs,
    `${count} dead letter(s) on ${queue}`,
  );
  return taken;
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
