/** `@order-mail/shared/metrics`: the per-service Prometheus registry and HTTP metrics. Loads prom-client. */
export * from '../metrics';
