import { performance } from 'node:perf_hooks';
import type { Span } from '../telemetry/coordination-tracer.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { MESSAGING_SYSTEM } from '../telemetry/telemetry.scope.js';
import type { ClaimedJob } from './queue.store.js';

/** How a job attempt ended, as spans and the duration histogram name it. */
export type AttemptOutcome = 'completed' | 'retrying' | 'dead' | 'lost' | 'released';

/**
 * Runs an add in a producer span (`send <queue>`); `add` gets the trace context to store with
 * the jobs, so their attempts' spans are children of this one, in whichever process runs them.
 */
export function tracedAdd<T>(
  telemetry: Telemetry | undefined,
  queue: string,
  count: number,
  add: (trace?: string) => Promise<T>,
): Promise<T> {
  const tracer = telemetry?.tracer;
  if (!tracer) return add();
  const attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'add',
    'messaging.destination.name': queue,
    ...(count === 1 ? {} : { 'messaging.batch.message_count': count }),
  };
  return tracer.traced(
    `send ${queue}`,
    'producer',
    attributes,
    (span) => add(tracer.carrier(span)),
    (ids) => (typeof ids === 'string' ? { 'messaging.message.id': ids } : {}),
  );
}

/**
 * One attempt of a job as telemetry sees it: a consumer span (`process <queue>`), a child of the
 * add's span, active while the handler runs; and the attempt's duration by outcome.
 */
export class AttemptTelemetry {
  private readonly startedAt = performance.now();

  private constructor(
    private readonly telemetry: Telemetry,
    private readonly queue: string,
    private readonly span: Span | undefined,
  ) {}

  /**
   * Undefined when there is nothing to record (no SDK), or when the SDK fails to start the span:
   * telemetry never keeps a job from running.
   */
  static start(
    telemetry: Telemetry,
    queue: string,
    claimed: ClaimedJob,
  ): AttemptTelemetry | undefined {
    try {
      return AttemptTelemetry.begin(telemetry, queue, claimed);
    } catch {
      return undefined;
    }
  }

  private static begin(
    telemetry: Telemetry,
    queue: string,
    { job, trace }: ClaimedJob,
  ): AttemptTelemetry | undefined {
    const { tracer, metrics } = telemetry;
    const span = tracer?.start(
      `process ${queue}`,
      'consumer',
      {
        'messaging.system': MESSAGING_SYSTEM,
        'messaging.operation.type': 'process',
        'messaging.destination.name': queue,
        'messaging.message.id': job.id,
        'coordination.job.attempt': job.attempt,
        ...(job.name === undefined ? {} : { 'coordination.job.name': job.name }),
      },
      tracer.parentFrom(trace),
    );
    return span || metrics ? new AttemptTelemetry(telemetry, queue, span) : undefined;
  }

  /** Runs the handler with the attempt's span active. */
  run<T>(handler: () => Promise<T>): Promise<T> {
    return this.span ? this.telemetry.tracer!.within(this.span, handler) : handler();
  }

  /** Ends the span (an error marks it failed) and records the attempt's duration. */
  end(outcome: AttemptOutcome, error?: unknown): void {
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.telemetry.metrics?.jobDuration.record(seconds, {
      'messaging.destination.name': this.queue,
      'coordination.job.outcome': outcome,
    });
    if (!this.span) return;
    this.span.setAttribute('coordination.job.outcome', outcome);
    this.telemetry.tracer!.end(this.span, error);
  }
}
