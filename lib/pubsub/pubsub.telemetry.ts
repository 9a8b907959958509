import type { Attributes } from '@opentelemetry/api';
import type { Telemetry } from '../telemetry/telemetry.js';
import { MESSAGING_SYSTEM } from '../telemetry/telemetry.scope.js';

/**
 * Starts a broadcast message that carries its publisher's trace context: NUL, the context
 * (JSON, which never holds a raw NUL), NUL, then the encoded message. Codec output (JSON text)
 * never starts with NUL, so a message without context passes as it is.
 */
const TRACE_MARK = '\u0000';

/** A broadcast message with its trace context in front. */
export function withTraceContext(payload: string, trace: string | undefined): string {
  return trace === undefined ? payload : `${TRACE_MARK}${trace}${TRACE_MARK}${payload}`;
}

/** Splits a broadcast message into the encoded message and the trace context it carries. */
export function splitTraceContext(text: string): { payload: string; trace?: string } {
  if (text.charCodeAt(0) !== 0) return { payload: text };
  const end = text.indexOf(TRACE_MARK, 1);
  if (end < 0) return { payload: text };
  return { payload: text.slice(end + 1), trace: text.slice(1, end) };
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
  if (!span) return handle();
  return tracer.within(span, handle).then(
    (result) => {
      tracer.end(span);
      return result;
    },
    (error: unknown) => {
      tracer.end(span, error);
      throw error;
    },
  );
}
