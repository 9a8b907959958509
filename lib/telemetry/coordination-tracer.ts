import type { Attributes, Context, Link, Span } from '@opentelemetry/api';
import type { OpenTelemetryApi } from './opentelemetry-api.js';
import { SCOPE_NAME } from './telemetry.scope.js';

export type { Span };

/** The span kinds the library makes. */
export type SpanKindName = 'internal' | 'producer' | 'consumer';

/**
 * The library's spans, through the global tracer provider the app's SDK registers. Until one
 * does, the API's tracer makes no-op spans: {@link start} answers `undefined` for those, so the
 * callers skip the rest of the tracing work (context, propagation, ending). Trace context crosses
 * processes as the propagator's headers (W3C `traceparent` by default), stored as JSON with the
 * job or message.
 */
export class CoordinationTracer {
  private readonly tracer;
  private readonly kinds: Record<SpanKindName, number>;

  constructor(private readonly api: typeof OpenTelemetryApi) {
    this.tracer = api.trace.getTracer(SCOPE_NAME);
    const { INTERNAL, PRODUCER, CONSUMER } = api.SpanKind;
    this.kinds = { internal: INTERNAL, producer: PRODUCER, consumer: CONSUMER };
  }

  /**
   * Starts a span, a child of `parent` or else of the active context; undefined when no SDK is
   * registered (a span not sampled is still returned: its context carries that decision on).
   */
  start(
    name: string,
    kind: SpanKindName,
    attributes: Attributes,
    parent?: Context,
    links?: Link[],
  ): Span | undefined {
    const span = this.tracer.startSpan(
      name,
      { kind: this.kinds[kind], attributes, ...(links ? { links } : {}) },
      parent ?? this.api.context.active(),
    );
    // The no-op tracer's spans carry the invalid trace id (compared, not validated: hot path).
    return span.spanContext().traceId === this.api.INVALID_TRACEID ? undefined : span;
  }

  /** Runs `work` with `span` active: spans started inside are its children. */
  within<T>(span: Span, work: () => T): T {
    const { context, trace } = this.api;
    return context.with(trace.setSpan(context.active(), span), work);
  }

  /** Ends `span`; an error sets its status to ERROR and is recorded as an exception event. */
  end(span: Span, error?: unknown): void {
    if (error !== undefined) {
      const failure = error instanceof Error ? error : new Error(String(error));
      span.recordException(failure);
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: failure.message });
    }
    span.end();
  }

  /**
   * Runs `work` in a span of its own (passed to it; undefined without an SDK), active inside it,
   * and ends the span with the outcome; `describe` adds attributes once the result is known.
   */
  traced<T>(
    name: string,
    kind: SpanKindName,
    attributes: Attributes,
    work: (span: Span | undefined) => Promise<T>,
    describe?: (result: T) => Attributes,
  ): Promise<T> {
    const span = this.start(name, kind, attributes);
    return span ? this.runIn(span, () => work(span), describe) : work(undefined);
  }

  /** Runs `work` with `span` active and ends the span with its outcome (see {@link traced}). */
  runIn<T>(span: Span, work: () => Promise<T>, describe?: (result: T) => Attributes): Promise<T> {
    let working: Promise<T>;
    try {
      working = this.within(span, work);
    } catch (error) {
      // Thrown before it returned a promise (bad arguments): the span still ends.
      this.end(span, error);
      throw error;
    }
    return working.then(
      (result) => {
        if (describe && span.isRecording()) span.setAttributes(describe(result));
        this.end(span);
        return result;
      },
      (error: unknown) => {
        this.end(span, error);
        throw error;
      },
    );
  }

  /**
   * The propagation headers of `span`'s context (W3C `traceparent` and `tracestate` by default,
   * no baggage), as JSON, to send along with a job or message.
   */
  carrier(span: Span | undefined): string | undefined {
    if (!span) return undefined;
    const { context, propagation, trace } = this.api;
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    // Baggage is the request's, possibly personal: it is not stored with jobs and messages.
    delete headers.baggage;
    return Object.keys(headers).length > 0 ? JSON.stringify(headers) : undefined;
  }

  /**
   * The context a carrier names: the parent of a consumer's span. A job or message without one
   * starts a trace of its own: whatever was active when the worker or subscriber started (a
   * span of the app's start, of the acquire that opened a connection) is no parent of it.
   */
  parentFrom(carrier: string | undefined): Context {
    const { ROOT_CONTEXT, propagation } = this.api;
    if (carrier === undefined) return ROOT_CONTEXT;
    let headers: unknown;
    try {
      headers = JSON.parse(carrier);
    } catch {
      return ROOT_CONTEXT;
    }
    if (headers === null || typeof headers !== 'object') return ROOT_CONTEXT;
    return propagation.extract(ROOT_CONTEXT, headers as Record<string, string>);
  }
}
