/** `@order-mail/shared/config`: the configuration helpers both services' schemas use. */
export * from '../config';
