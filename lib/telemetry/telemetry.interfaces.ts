/**
 * The module option `telemetry`: OpenTelemetry traces and metrics through the API's global
 * providers, which the app's SDK registers (`@opentelemetry/sdk-node` or the like). Needs the
 * package `@opentelemetry/api`, loaded only when this option is set.
 * @example telemetry: { traces: true, metrics: true }
 */
export interface TelemetryOptions {
  /** Spans for locks, jobs, messages and cache reads. @default true */
  traces?: boolean;
  /** Histograms, counters and gauges (queue depth, group lag, lock waits, cache hits). @default true */
  metrics?: boolean;
}
