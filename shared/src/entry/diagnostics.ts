/** `@order-mail/shared/diagnostics`: error causes, masked URLs and addresses for logs. Loads nothing. */
export * from '../diagnostics';
