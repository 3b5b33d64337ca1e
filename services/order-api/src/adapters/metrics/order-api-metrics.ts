import { Counter, Histogram, type Registry } from 'prom-client';

export type PublishResult = 'confirmed' | 'nacked' | 'timeout' | 'broker_down' | 'unroutable';
export const PUBLISH_RESULTS: readonly PublishResult[] = [
  'confirmed',
  'nacked',
  'timeout',
  'broker_down',
  'unroutable',
];

export interface OrderApiMetrics {
  orderAccepted(): void;
  /** One publish attempt and, when the broker answered, how long its confirm took. */
  published(result: PublishResult, confirmSeconds?: number): void;
}

export function createOrderApiMetrics(registry: Registry): OrderApiMetrics {
  const accepted = new Counter({
    name: 'orders_accepted_total',
    help: 'Orders answered 202 Accepted (their event confirmed by the broker).',
    registers: [registry],
  });
  const published = new Counter({
    name: 'order_events_published_total',
    help: 'Order events the API tried to publish, by outcome.',
    labelNames: ['result'],
    registers: [registry],
  });
  const confirmDuration = new Histogram({
    name: 'order_event_publish_confirm_duration_seconds',
    help: 'Time from publishing an order event to the broker confirming it.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // Series that dashboards and alerts read start at 0 rather than missing.
  for (const result of PUBLISH_RESULTS) published.inc({ result }, 0);
  return {
    orderAccepted: () => accepted.inc(),
    published(result, confirmSeconds) {
      published.inc({ result });
      if (confirmSeconds !== undefined) confirmDuration.observe(confirmSeconds);
    },
  };
}
