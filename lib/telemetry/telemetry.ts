import type { LoggerService } from '@nestjs/common';
import { CoordinationMetrics } from './coordination-metrics.js';
import { CoordinationTracer } from './coordination-tracer.js';
import { loadOpenTelemetryApi } from './opentelemetry-api.js';
import type { ResolvedTelemetryOptions } from './telemetry.options.js';

/**
 * The module's OpenTelemetry instrumentation, present only when the module option `telemetry`
 * is set. Each capability takes it once, at construction, with {@link telemetryOf}, and checks
 * `telemetry?.tracer` / `?.metrics` per call: an app without it pays one property read.
 */
export class Telemetry {
  private constructor(
    readonly tracer: CoordinationTracer | undefined,
    readonly metrics: CoordinationMetrics | undefined,
  ) {}

  /**
   * Loads `@opentelemetry/api` and makes what the options turn on. Metrics need the SDK's meter
   * provider registered by now: the API binds instruments when they are made (a tracer, by
   * contrast, follows a provider registered later).
   */
  static async load(options: ResolvedTelemetryOptions, logger: LoggerService): Promise<Telemetry> {
    const api = await loadOpenTelemetryApi();
    let metrics = options.metrics ? new CoordinationMetrics(api) : undefined;
    if (metrics?.noop) {
      logger.warn(
        'telemetry.metrics: no OpenTelemetry meter provider is registered at app start, so no metrics are reported; register the SDK before the app starts',
      );
      metrics = undefined;
    }
    return new Telemetry(options.traces ? new CoordinationTracer(api) : undefined, metrics);
  }
}

/**
 * Which connections have telemetry. Kept beside them rather than as a field: a field would put
 * `@opentelemetry/api` types in the public declarations, which apps without that optional
 * package could not compile (with `skipLibCheck: false`).
 */
const bound = new WeakMap<object, Telemetry>();

/** Gives a module's connections their telemetry (at app start). */
export function bindTelemetry(connections: object, telemetry: Telemetry): void {
  bound.set(connections, telemetry);
}

/** The telemetry of a module's connections; undefined when the option is off. */
export function telemetryOf(connections: object): Telemetry | undefined {
  return bound.get(connections);
}
