import { Registry } from 'prom-client';
import { createOrderApiMetrics, type PublishResult } from '../../src/adapters/metrics/order-api-metrics';

/** A sample's value: `sample` names a histogram's `_count` series, else the metric itself; NaN if absent. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metricName = name.replace(/_count$/, '');
  const metric = await registry.getSingleMetric(metricName)?.get();
  const sample = metric?.values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? metricName) === name &&
      Object.entries(labels).every(([k, value]) => v.labels[k] === value),
  );
  return sample?.value ?? NaN;
}

const CONFIRM_COUNT = 'order_event_publish_confirm_duration_seconds_count';

describe('order API metrics: publishes', () => {
  it.each<[PublishResult, number]>([
    ['confirmed', 1],
    ['nacked', 1],
    ['unroutable', 1],
    ['broker_down', 1],
    ['timeout', 0],
  ])('when a timed publish ends %s, then it is counted, and its confirm timed %i time(s)', async (result, timed) => {
    // Arrange
    const registry = new Registry();
    const metrics = createOrderApiMetrics(registry);

    // Act
    metrics.startPublish()(result);

    // Assert
    expect(await valueOf(registry, 'order_events_published_total', { result })).toBe(1);
    expect(await valueOf(registry, CONFIRM_COUNT)).toBe(timed);
  });

  it('when a publish is refused before anything was sent, then it is counted and not timed', async () => {
    // Arrange
    const registry = new Registry();
    const metrics = createOrderApiMetrics(registry);

    // Act
    metrics.publishRefused('broker_down');

    // Assert
    expect(await valueOf(registry, 'order_events_published_total', { result: 'broker_down' })).toBe(1);
    expect(await valueOf(registry, CONFIRM_COUNT)).toBe(0);
  });

  it('when nothing was published yet, then every result is a series at 0', async () => {
    // Arrange
    const registry = new Registry();
    createOrderApiMetrics(registry);

    // Act + Assert
    for (const result of ['confirmed', 'nacked', 'timeout', 'broker_down', 'unroutable']) {
      expect(await valueOf(registry, 'order_events_published_total', { result })).toBe(0);
    }
  });
});
