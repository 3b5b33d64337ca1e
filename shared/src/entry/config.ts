/** `@order-mail/shared/config`: the configuration helpers both services' schemas use. */
export * from '../config';
export { parseAmqpNodeList, MAX_AMQP_NODES } from '../amqp-nodes';
