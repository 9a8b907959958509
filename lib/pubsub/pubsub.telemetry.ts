import type { Attributes } from '@opentelemetry/api';
import type { Telemetry } from '../telemetry/telemetry.js';
import { MESSAGING_SYSTEM } from '../telemetry/telemetry.scope.js';

/**
 * Starts a broadcast message that carries its publisher's trace context: this marker, the
 * context (JSON headers, never holding a raw NUL), NUL, then the encoded message. A message is
 * split only when it starts with the marker and the context parses as headers; any other text,
 * whatever its first character, passes as it is.
 */
const TRACE_MARK = '\u0000otel:';

/** A broadcast message with its trace context in front. */
export function withTraceContext(payload: string, trace: string | undefined): string {
  return trace === undefined ? payload : `${TRACE_MARK}${trace}\u0000${payload}`;
}

/** Splits a broadcast message into the encoded message and the trace context it carries. */
export function splitTraceContext(text: string): { payload: string; trace?: string } {
  // Hot path: one character compared for the messages that carry no context.
  if (text.charCodeAt(0) !== 0 || !text.startsWith(TRACE_MARK)) return { payload: text };
  const end = text.indexOf('\u0000', TRACE_MARK.length);
  if (end < 0) return { payload: text };
  const trace = text.slice(TRACE_MARK.length, end);
  return isHeaders(trace) ? { payload: text.slice(end + 1), trace } : { payload: text };
}

/** True for the JSON of an object of string values (propagation headers). */
function isHeaders(json: string): boolean {
  let headers: unknown;
  try {
    headers = JSON.parse(json);
  } catch {
    return false;
  }
  return (
    headers !== null &&
    typeof headers === 'object' &&
    !Array.isArray(headers) &&
    Object.values(headers).every((value) => typeof value === 'string')
  );
}

function messagingAttributes(channel: string, operation: 'send' | 'process'): Attributes {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation === 'send' ? 'publish' : 'process',
    'messaging.destination.name': channel,
  };
}

/**
 * Runs a publish in a producer span (`send <channel>`); `publish` gets the trace context to send
 * with the message. Resolves to what `publish` does (a durable message's entry id is recorded).
 */
export function tracedPublish<T extends number | string>(
  telemetry: Telemetry,
  channel: string,
  durable: boolean,
  publish: (trace?: string) => Promise<T>,
): Promise<T> {
  const tracer = telemetry.tracer!;
  const attributes = { ...messagingAttributes(channel, 'send'), 'coordination.durable': durable };
  return tracer.traced(
    `send ${channel}`,
    'producer',
    attributes,
    (span) => publish(tracer.carrier(span)),
    (result): Attributes => (durable ? { 'messaging.message.id': result } : {}),
  );
}

/**
 * Runs a handler in a consumer span (`process <channel>`), a child of the publisher's span when
 * the message carried its context; a throw or rejection marks the span failed and goes on.
 */
export function tracedHandle<T>(
  telemetry: Telemetry,
  channel: string,
  trace: string | undefined,
  attributes: Attributes,
  handle: () => Promise<T>,
): Promise<T> {
  const tracer = telemetry.tracer!;
  const span = tracer.start(
    `process ${channel}`,
    'consumer',
    { ...messagingAttributes(channel, 'process'), ...attributes },
    tracer.parentFrom(trace),
  );
  return span ? tracer.runIn(span, handle) : handle();
}
