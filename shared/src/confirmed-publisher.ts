import type { ConfirmChannel, Options } from 'amqplib';
import { AppError, ErrorCodes } from './errors';

export interface ConfirmedPublisher {
  /**
   * Publishes `mandatory` and resolves once the broker confirmed this very message. Rejects with
   * PUBLISH_UNROUTABLE if no queue took it (RabbitMQ returns it before confirming), PUBLISH_NACKED,
   * PUBLISH_TIMEOUT, PUBLISH_UNCONFIRMED if the channel closed while the confirm was pending, or
   * BROKER_UNAVAILABLE if the channel was already closed (nothing was sent).
   */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish & { messageId: string },
  ): Promise<void>;
}

/** The error amqplib hands a publish callback for a broker's basic.nack (any other error is a closed channel). */
const AMQPLIB_NACK_MESSAGE = 'message nacked';

const key = (exchange: string, routingKey: string, messageId: string) =>
  `${exchange}\u0000${routingKey}\u0000${messageId}`;

export function createConfirmedPublisher(ch: ConfirmChannel, confirmTimeoutMs: number): ConfirmedPublisher {
  const returned = new Set<string>();
  ch.on('return', (msg) => {
    const id = msg.properties.messageId;
    if (id !== undefined) returned.add(key(msg.fields.exchange, msg.fields.routingKey, String(id)));
  });

  return {
    publish(exchange, routingKey, content, options) {
      const returnKey = key(exchange, routingKey, options.messageId);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new AppError(ErrorCodes.PUBLISH_TIMEOUT, `No publisher confirm within ${confirmTimeoutMs} ms`));
        }, confirmTimeoutMs);
        try {
          ch.publish(exchange, routingKey, content, { ...options, mandatory: true }, (err) => {
            clearTimeout(timer);
            const wasReturned = returned.delete(returnKey);
            if (err && err.message !== AMQPLIB_NACK_MESSAGE) {
              // amqplib fails every confirm still pending when the channel closes: the broker may
              // have stored the message all the same, so this is no refusal.
              reject(
                new AppError(ErrorCodes.PUBLISH_UNCONFIRMED, 'The broker channel closed before the confirm arrived', {
                  cause: err,
                }),
              );
            } else if (err) {
              reject(new AppError(ErrorCodes.PUBLISH_NACKED, 'The broker did not accept the message', { cause: err }));
            } else if (wasReturned) {
              const target =
                exchange === '' ? `queue "${routingKey}"` : `exchange "${exchange}" with routing key "${routingKey}"`;
              reject(new AppError(ErrorCodes.PUBLISH_UNROUTABLE, `No queue is bound to ${target}`));
            } else {
              resolve();
            }
          });
        } catch (err) {
          clearTimeout(timer);
          reject(new AppError(ErrorCodes.BROKER_UNAVAILABLE, 'The broker channel is closed', { cause: err }));
        }
      });
    },
  };
}
