/**
 * `@order-mail/shared/contract`: the order and event contract, its address and text rules, the
 * error catalogue and validation. Loads only zod, @hapi/address (with @hapi/hoek) and Node's
 * builtins, so domain code may import it (test/architecture/domain-imports.test.ts checks).
 */
export * from '../errors';
export * from '../validation';
export * from '../order-event';
export * from '../currency';
export * from '../text-rules';
export * from '../email-address';
export * from '../order-totals';
export * from '../order-intake';
export * from '../mail-event';
