import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry of the service's own, with Node's default metrics, so two services can share a process in tests. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
