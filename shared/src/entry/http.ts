/**
 * `@order-mail/shared/http`: what both services' HTTP sides share: the server with its limits and
 * start-up lines, problem+json error answers, the ops routes, request ids and UTF-8 body checks.
 * Loads express and pino (the lifecycle's logger); prom-client only as types.
 */
export * from '../lifecycle';
export * from '../http-errors';
export * from '../ops-router';
export * from '../utf8-body';
export * from '../request-id';
