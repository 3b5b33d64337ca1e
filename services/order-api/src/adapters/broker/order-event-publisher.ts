import {
  openBroker,
  createConfirmedPublisher,
  type BrokerLink,
  type ConfirmedPublisher,
} from '@order-mail/shared/broker';
import { AppError, ErrorCodes, EventHeaders, isAppError, type OrderConfirmedEvent } from '@order-mail/shared/contract';
import type { Logger } from '@order-mail/shared/logger';
import type { OrderApiMetrics, PublishResult } from '../metrics/order-api-metrics';

export interface OrderEventPublisher {
  /** Publishes persistently and resolves only once RabbitMQ has confirmed this very message. */
  publish(event: OrderConfirmedEvent): Promise<void>;
  isReady(): boolean;
  /** `host:port` of the RabbitMQ node in use (one of AMQP_URL's), null while not connected. */
  node(): string | null;
  /** Stops taking new publishes, waits for those in flight, then closes the connection. */
  close(): Promise<void>;
}

export interface OrderEventPublisherOptions {
  /** Told the outcome of every publish attempt, timed from the publish to the broker's answer. */
  metrics?: Pick<OrderApiMetrics, 'startPublish' | 'publishRefused'>;
  amqpUrl: string;
  exchange: string;
  routingKey: string;
  confirmTimeoutMs: number;
  logger: Logger;
}

const RETRY_IS_SAFE = 'Retrying with the same orderId is safe: an orderId gets at most one confirmation email.';

/**
 * Why publishing `orderId` failed, as the client's `503` says it: the same error code, with a
 * message true for that cause about what became of the order (README, "POST /orders"):
 * - not published (SHUTTING_DOWN, BROKER_UNAVAILABLE, PUBLISH_UNROUTABLE): nothing was stored;
 * - not confirmed (PUBLISH_TIMEOUT after `confirmTimeoutMs`, PUBLISH_UNCONFIRMED): the broker may
 *   still store the event, and then the email is sent;
 * - refused (PUBLISH_NACKED): RabbitMQ did not take responsibility for it.
 * Every message ends saying that a retry with the same orderId is safe (the mailer's ledger).
 * Any other error is returned as it is.
 */
export function explainPublishFailure(err: unknown, orderId: string, confirmTimeoutMs: number): unknown {
  if (!isAppError(err)) return err;
  const order = `Order "${orderId}"`;
  const explain = (message: string) =>
    new AppError(err.code, `${message} ${RETRY_IS_SAFE}`, { cause: err, details: err.details });
  switch (err.code) {
    case ErrorCodes.SHUTTING_DOWN:
      return explain(`The order API is shutting down. ${order} was not published and will not be processed.`);
    case ErrorCodes.BROKER_UNAVAILABLE:
      return explain(
        `The order API is not connected to RabbitMQ. ${order} was not published and will not be processed.`,
      );
    case ErrorCodes.PUBLISH_UNROUTABLE:
      return explain(
        `No queue is bound to take order events, so RabbitMQ returned the event. ${order} was not stored and will not be processed.`,
      );
    case ErrorCodes.PUBLISH_NACKED:
      return explain(
        `RabbitMQ refused the event (negative confirm). ${order} was not accepted and is not certain to be processed.`,
      );
    case ErrorCodes.PUBLISH_TIMEOUT:
      return explain(
        `RabbitMQ did not confirm the event within ${confirmTimeoutMs} ms. ${order} was not confirmed, but RabbitMQ may still store it, and then it will be processed and its email sent.`,
      );
    case ErrorCodes.PUBLISH_UNCONFIRMED:
      return explain(
        `The connection to RabbitMQ was lost before it confirmed the event. ${order} was not confirmed, but RabbitMQ may have stored it, and then it will be processed and its email sent.`,
      );
    default:
      return err;
  }
}

function publishResultOf(err: unknown): PublishResult {
  if (isAppError(err, ErrorCodes.PUBLISH_TIMEOUT)) return 'timeout';
  if (isAppError(err, ErrorCodes.PUBLISH_UNROUTABLE)) return 'unroutable';
  if (isAppError(err, ErrorCodes.PUBLISH_NACKED)) return 'nacked';
  // PUBLISH_UNCONFIRMED too: the connection went away while the confirm was pending.
  return 'broker_down';
}

/**
 * The message properties of `event`: persistent JSON, its event id as the message id (the mailer's
 * ledger and dead letters name it so), its correlation id both as the AMQP property and in the
 * headers the mailer reads, and the acceptance time in seconds (AMQP timestamps are).
 */
export function publishOptionsOf(event: OrderConfirmedEvent): Parameters<ConfirmedPublisher['publish']>[3] {
  return {
    persistent: true,
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    type: event.type,
    messageId: event.eventId,
    correlationId: event.correlationId,
    timestamp: Math.floor(Date.parse(event.acceptedAt) / 1000),
    appId: 'order-api',
    headers: {
      [EventHeaders.correlationId]: event.correlationId,
      [EventHeaders.schemaVersion]: event.schemaVersion,
    },
  };
}

/**
 * Counts the publishes awaiting their confirm: `add` one, `done` when its confirm (or failure)
 * came; `drained()` resolves once none is left, at once if none is. A count rather than a set of
 * promises: every order goes through it, so its bookkeeping stays one promise chain per publish.
 */
function countInFlight(): { add(): void; done(): void; drained(): Promise<void> } {
  let count = 0;
  let resolveDrained: (() => void) | null = null;
  let drained: Promise<void> | null = null;
  return {
    add: () => {
      count += 1;
    },
    done: () => {
      count -= 1;
      if (count > 0 || resolveDrained === null) return;
      resolveDrained();
      resolveDrained = null;
      drained = null;
    },
    drained: () =>
      count === 0 ? Promise.resolve() : (drained ??= new Promise<void>((resolve) => (resolveDrained = resolve))),
  };
}

/**
 * One long-lived confirm channel shared by all requests, each waiting for its own message's
 * confirm. Messages are published `mandatory`, so an event that no queue is bound to comes back
 * as a return and is refused instead of being confirmed and silently dropped.
 */
export async function createOrderEventPublisher(options: OrderEventPublisherOptions): Promise<OrderEventPublisher> {
  const { logger, exchange, routingKey } = options;
  let publisher: ConfirmedPublisher | null = null;
  let closing = false;
  const inFlight = countInFlight();

  const link: BrokerLink = await openBroker({
    url: options.amqpUrl,
    connectionName: 'order-api',
    logger,
    onDisconnect: () => {
      publisher = null;
    },
    setup: async (open) => {
      const ch = await open.confirmChannel();
      await ch.assertExchange(exchange, 'topic', { durable: true });
      const current = createConfirmedPublisher(ch, options.confirmTimeoutMs);
      ch.on('close', () => {
        if (publisher === current) publisher = null;
      });
      publisher = current;
    },
  });

  return {
    publish(event) {
      const explain = (err: unknown) => explainPublishFailure(err, event.order.orderId, options.confirmTimeoutMs);
      if (closing)
        return Promise.reject(explain(new AppError(ErrorCodes.SHUTTING_DOWN, 'The service is shutting down')));
      if (!publisher || !link.isConnected()) {
        options.metrics?.publishRefused('broker_down');
        return Promise.reject(explain(new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker')));
      }
      const recordOutcome = options.metrics?.startPublish();
      const confirmed = publisher.publish(
        exchange,
        routingKey,
        Buffer.from(JSON.stringify(event)),
        publishOptionsOf(event),
      );
      inFlight.add();
      return confirmed.then(
        () => {
          inFlight.done();
          recordOutcome?.('confirmed');
        },
        (err: unknown) => {
          inFlight.done();
          recordOutcome?.(publishResultOf(err));
          throw explain(err);
        },
      );
    },
    isReady: () => !closing && publisher !== null && link.isConnected(),
    node: () => link.node(),
    async close() {
      closing = true;
      await inFlight.drained();
      await link.close();
    },
  };
}
