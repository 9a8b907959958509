import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

/** A reader that exports nothing by itself: the test collects when it wants to look. */
export class CollectingReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** One data point of a collected metric: its attributes and value (a sum, a gauge or a histogram's count). */
export interface MetricPoint {
  attributes: Record<string, unknown>;
  value: number;
}

/**
 * Registers an OpenTelemetry SDK as an app would (global tracer and meter providers, the
 * AsyncLocalStorage context manager, W3C trace context propagation), with spans kept in memory
 * (and handed to `onSpan`, if given) and metrics collected on demand.
 */
export function registerTestTelemetry(onSpan?: (span: ReadableSpan) => void) {
  const exporter = new InMemorySpanExporter();
  const forwarding: SpanExporter = {
    export(spans, done) {
      for (const span of spans) onSpan?.(span);
      exporter.export(spans, done);
    },
    shutdown: () => exporter.shutdown(),
  };
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(forwarding)],
  });
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    /** The points of metric `name` at this collection. */
    async points(name: string): Promise<MetricPoint[]> {
      const { resourceMetrics } = await reader.collect();
      return pointsOf(resourceMetrics, name);
    },
    async dispose(): Promise<void> {
      trace.disable();
      metrics.disable();
      context.disable();
      propagation.disable();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

function pointsOf(resourceMetrics: ResourceMetrics, name: string): MetricPoint[] {
  return resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name)
    .flatMap((metric) =>
      (metric.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]).map(
        ({ attributes, value }) => ({
          attributes,
          value: typeof value === 'number' ? value : (value as { count: number }).count,
        }),
      ),
    );
}
