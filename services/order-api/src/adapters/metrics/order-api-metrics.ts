import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * How a publish attempt ended, the `result` label of `order_events_published_total`: `confirmed`
 * (the broker stored it), `nacked`, `timeout` (no confirm within PUBLISH_CONFIRM_TIMEOUT_MS),
 * `broker_down` (not connected, or the connection lost before the confirm) and `unroutable`
 * (returned: no queue bound). Declared once; dashboards and alerts read these label values.
 */
const PUBLISH_RESULTS = ['confirmed', 'nacked', 'timeout', 'broker_down', 'unroutable'] as const;
export type PublishResult = (typeof PUBLISH_RESULTS)[number];

/** The `key_id` of orders accepted while authentication is off (ORDER_API_AUTH=off). */
export const NO_KEY_ID = 'none';

export interface OrderApiMetrics {
  /** One order answered 202, posted with the key of id `keyId` (`NO_KEY_ID` with authentication off). */
  orderAccepted(keyId: string): void;
  /**
   * Starts timing one publish; the returned function counts how it ended and records how long the
   * confirm took, unless it timed out (a timeout has no confirm to time).
   */
  startPublish(): (result: PublishResult) => void;
  /** One publish refused before anything was sent (not connected): counted, not timed. */
  publishRefused(result: PublishResult): void;
}

/**
 * The order API's own metrics (see infra/METRICS.md). `keyIds`: the ids of the configured keys
 * (`ApiKey.id`), or `[NO_KEY_ID]` with authentication off; each `orders_accepted_total{key_id}`
 * series exists at 0 from the start. Key ids are few and not secret, so they may be label values.
 */
export function createOrderApiMetrics(registry: Registry, keyIds: readonly string[] = [NO_KEY_ID]): OrderApiMetrics {
  const accepted = new Counter({
    name: 'orders_accepted_total',
    help: 'Orders answered 202 Accepted (their event confirmed by the broker), by the key they were posted with.',
    labelNames: ['key_id'],
    registers: [registry],
  });
  for (const keyId of keyIds) accepted.inc({ key_id: keyId }, 0);
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
    orderAccepted: (keyId) => accepted.inc({ key_id: keyId }),
    startPublish() {
      const end = confirmDuration.startTimer();
      return (result) => {
        published.inc({ result });
        if (result !== 'timeout') end();
      };
    },
    publishRefused: (result) => published.inc({ result }),
  };
}
