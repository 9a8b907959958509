import { CoordinationMetrics } from './coordination-metrics.js';
import { CoordinationTracer } from './coordination-tracer.js';
import { loadOpenTelemetryApi } from './opentelemetry-api.js';
import type { ResolvedTelemetryOptions } from './telemetry.options.js';

/**
 * The module's OpenTelemetry instrumentation, present only when the module option `telemetry`
 * is set: capabilities check `connections.telemetry?.tracer` / `?.metrics`, so an app without it
 * pays one property read per call.
 */
export class Telemetry {
  private constructor(
    readonly tracer: CoordinationTracer | undefined,
    readonly metrics: CoordinationMetrics | undefined,
  ) {}

  /** Loads `@opentelemetry/api` and makes what the options turn on. */
  static async load(options: ResolvedTelemetryOptions): Promise<Telemetry> {
    const api = await loadOpenTelemetryApi();
    return new Telemetry(
      options.traces ? new CoordinationTracer(api) : undefined,
      options.metrics ? new CoordinationMetrics(api) : undefined,
    );
  }
}
