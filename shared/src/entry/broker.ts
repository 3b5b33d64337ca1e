/** `@order-mail/shared/broker`: the self-recovering RabbitMQ connection and confirmed publishes. Loads amqplib. */
export * from '../broker';
export * from '../confirmed-publisher';
