import {
  AppError,
  ErrorCodes,
  EventHeaders,
  openBroker,
  type BrokerLink,
  type ConfirmChannel,
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
  amqpUrl: string;
  exchange: string;
  routingKey: string;
  confirmTimeoutMs: number;
  logger: Logger;
}

/**
 * One long-lived confirm channel shared by all requests. Messages are published `mandatory`,
 * so an event that no queue is bound to comes back as a return and is refused instead of
 * being confirmed and silently dropped.
 */
export async function createOrderEventPublisher(options: OrderEventPublisherOptions): Promise<OrderEventPublisher> {
  const { logger, exchange, routingKey } = options;
  let channel: ConfirmChannel | null = null;
  let closing = false;
  const returned = new Set<string>();
  const inFlight = new Set<Promise<void>>();

  const link: BrokerLink = await openBroker({
    url: options.amqpUrl,
    connectionName: 'order-api',
    logger,
    onDisconnect: () => {
      channel = null;
    },
    setup: async (open) => {
      const ch = await open.confirmChannel();
      await ch.assertExchange(exchange, 'topic', { durable: true });
      // RabbitMQ sends basic.return before the confirm of the same message.
      ch.on('return', (msg) => {
        if (msg.properties.messageId) returned.add(String(msg.properties.messageId));
      });
      ch.on('close', () => {
        if (channel === ch) channel = null;
      });
      channel = ch;
    },
  });

  function publishOnce(ch: ConfirmChannel, event: OrderConfirmedEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new AppError(ErrorCodes.PUBLISH_TIMEOUT, `No publisher confirm within ${options.confirmTimeoutMs} ms`));
      }, options.confirmTimeoutMs);
      const settle = (err: unknown) => {
        clearTimeout(timer);
        const wasReturned = returned.delete(event.eventId);
        if (err) {
          reject(new AppError(ErrorCodes.PUBLISH_NACKED, 'The broker did not accept the message', { cause: err }));
        } else if (wasReturned) {
          reject(
            new AppError(
              ErrorCodes.PUBLISH_UNROUTABLE,
              `No queue is bound to exchange "${exchange}" with routing key "${routingKey}"`,
            ),
          );
        } else {
          resolve();
        }
      };
      try {
        ch.publish(
          exchange,
          routingKey,
          Buffer.from(JSON.stringify(event)),
          {
            persistent: true,
            mandatory: true,
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
          },
          settle,
        );
      } catch (err) {
        clearTimeout(timer);
        reject(new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'The broker channel is closed', { cause: err }));
      }
    });
  }

  return {
    publish(event) {
      if (closing) return Promise.reject(new AppError(ErrorCodes.SHUTTING_DOWN, 'The service is shutting down'));
      const ch = channel;
      if (!ch || !link.isConnected()) {
        return Promise.reject(new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'Not connected to the broker'));
      }
      const pending = publishOnce(ch, event);
      const tracked = pending.catch(() => undefined);
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
      return pending;
    },
    isReady: () => !closing && channel !== null && link.isConnected(),
    async close() {
      closing = true;
      await Promise.all(inFlight);
      await link.close();
    },
  };
}
