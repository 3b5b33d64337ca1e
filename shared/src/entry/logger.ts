/** `@order-mail/shared/logger`: the pino logger both services use. Loads pino. */
export * from '../logger';
