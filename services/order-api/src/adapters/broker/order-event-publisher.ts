import type { PublishResult } from '../metrics/order-api-metrics';
import {
  AppError,
  ErrorCodes,
  EventHeaders,
  isAppError,
  openBroker,
  createConfirmedPublisher,
  type BrokerLink,
  type ConfirmedPublisher,
  type Logger,
  type OrderConfirmedEvent,
} from '@order-mail/shared';

export interface OrderEventPublisher {
  /** Publishes persistently and resolves only once RabbitMQ has confirmed this very message. */
  publish(event: OrderConfirmedEvent): Promise<void>;
  isReady(): boolean;
  /** Stops taking new publishes, waits for those in flight, then closes the connection. */
  close(): Promise<void>;
}

export interface OrderEventPublisherOptions {
  /** Told the outcome of every publish attempt (for metrics). */
  onPublished?(result: PublishResult, confirmSeconds?: number): void;
  amqpUrl: string;
  exchange: string;
  routingKey: string;
  confirmTimeoutMs: number;
  logger: Logger;
}

function publishResultOf(err: unknown): PublishResult {
  if (isAppError(err, ErrorCodes.PUBLISH_TIMEOUT)) return 'timeout';
  if (isAppError(err, ErrorCodes.PUBLISH_UNROUTABLE)) return 'unroutable';
  if (isAppError(err, ErrorCodes.PUBLISH_NACKED)) return 'nacked';
  return 'broker_down';
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
  const inFlight = new Set<Promise<void>>();

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
      if (closing) return Promise.reject(new AppError(ErrorCodes.SHUTTING_DOWN, 'The service is shutting down'));
      if (!publisher || !link.isConnected()) {
        options.onPublished?.('broker_down');
        return Promise.reject(new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker'));
      }
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      const pending = publisher.publish(exchange, routingKey, Buffer.from(JSON.stringify(event)), {
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
      });
      pending.then(
        () => options.onPublished?.('confirmed', seconds()),
        (err: unknown) =>
          options.onPublished?.(
            publishResultOf(err),
            isAppError(err, ErrorCodes.PUBLISH_TIMEOUT) ? undefined : seconds(),
          ),
      );
      const tracked = pending.catch(() => undefined);
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
      return pending;
    },
    isReady: () => !closing && publisher !== null && link.isConnected(),
    async close() {
      closing = true;
      await Promise.all(inFlight);
      await link.close();
    },
  };
}
