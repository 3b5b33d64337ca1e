import type { ConsumeMessage } from 'amqplib';
import { mailEventSchema, type MailEvent } from '@order-mail/shared/contract';
import { connectTestBroker, eventually } from './broker';
import { uniqueName } from './names';

/** A delivery event as a consumer of the events exchange receives it. */
export interface ReceivedMailEvent {
  event: MailEvent;
  properties: ConsumeMessage['properties'];
  routingKey: string;
}

export interface MailEventListener {
  /** Every event received so far, in arrival order, each checked against `mailEventSchema`. */
  events: ReceivedMailEvent[];
  /** Resolves once `count` events (of `orderId`, if given) have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, orderId?: string, timeoutMs?: number): Promise<ReceivedMailEvent[]>;
  /** Deletes its queue and closes its connection. */
  close(): Promise<void>;
}

/**
 * A consumer of the delivery events, as a shop's system would be: its own queue (unique name,
 * deleted by `close`) bound to `exchange` with `email.#`. Declares the exchange as the mailer does
 * (topic, durable), so it may start before the mailer. Throws from `waitFor` when an event does
 * not match the published JSON Schema's source, `mailEventSchema`.
 */
export async function listenToMailEvents(exchange: string): Promise<MailEventListener> {
  const { connection, channel } = await connectTestBroker();
  const queue = uniqueName('test.mail-events');
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertQueue(queue, { durable: false, exclusive: true });
  await channel.bindQueue(queue, exchange, 'email.#');
  const events: ReceivedMailEvent[] = [];
  const invalid: string[] = [];
  await channel.consume(
    queue,
    (msg) => {
      if (!msg) return;
      const parsed = mailEventSchema.safeParse(JSON.parse(msg.content.toString('utf8')));
      if (parsed.success) {
        events.push({ event: parsed.data, properties: msg.properties, routingKey: msg.fields.routingKey });
      } else invalid.push(`${msg.content.toString('utf8')}: ${parsed.error.message}`);
    },
    { noAck: true },
  );
  const of = (orderId?: string) => events.filter((e) => orderId === undefined || e.event.orderId === orderId);
  return {
    events,
    async waitFor(count, orderId, timeoutMs = 20_000) {
      await eventually(
        () => {
          if (invalid.length > 0) throw new Error(`events not matching mailEventSchema: ${invalid.join('; ')}`);
          return of(orderId).length >= count;
        },
        timeoutMs,
        `${count} delivery event(s)${orderId ? ` of order ${orderId}` : ''}`,
      );
      return of(orderId);
    },
    async close() {
      await channel.deleteQueue(queue).catch(() => undefined);
      await connection.close();
    },
  };
}
