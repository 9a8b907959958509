import type {
  Attributes,
  BatchObservableCallback,
  Counter,
  Histogram,
  ObservableGauge,
} from '@opentelemetry/api';
import { waitAtMost } from '../common/within.js';
import type { OpenTelemetryApi } from './opentelemetry-api.js';
import { SCOPE_NAME } from './telemetry.scope.js';

/** Longest a collection waits for the gauges' Redis reads; they report nothing after it. */
const GAUGE_READ_MS = 1000;

/** What a gauge source reports when the SDK collects. */
export interface GaugeRecorder {
  queueJobs(queue: string, state: string, count: number): void;
  /** Seconds the queue's oldest waiting job has waited. */
  oldestWaiting(queue: string, seconds: number): void;
  groupLag(channel: string, group: string, lag: number): void;
  groupPending(channel: string, group: string, pending: number): void;
}

/**
 * The library's instruments, through the global meter provider the app's SDK registers (the
 * API's no-op meter until one does). Durations are in seconds, as the OpenTelemetry conventions
 * ask. Gauges that need a Redis read (queue depth, group lag) are read only when the SDK
 * collects, and only for what this process runs (its workers' queues, its consumers' groups).
 */
export class CoordinationMetrics {
  readonly lockWait: Histogram;
  readonly lockHold: Histogram;
  readonly lockLost: Counter;
  readonly jobDuration: Histogram;
  readonly cacheLookups: Counter;
  readonly rateLimitDenied: Counter;
  private readonly meter;
  private readonly gauges: Record<keyof GaugeRecorder, ObservableGauge>;

  constructor(api: typeof OpenTelemetryApi) {
    const meter = api.metrics.getMeter(SCOPE_NAME);
    this.meter = meter;
    const seconds = (name: string, description: string) =>
      meter.createHistogram(name, { description, unit: 's' });
    this.lockWait = seconds(
      'coordination.lock.wait.duration',
      'Time from asking for a lock to getting it (or giving up), by outcome',
    );
    this.lockHold = seconds(
      'coordination.lock.hold.duration',
      'Time a lock was held, until released or lost',
    );
    this.lockLost = meter.createCounter('coordination.lock.lost', {
      description: 'Locks lost while held (lease ran out, Redis lost them)',
      unit: '{lock}',
    });
    this.jobDuration = seconds(
      'coordination.queue.job.duration',
      'Time a job attempt ran, by queue and outcome',
    );
    this.cacheLookups = meter.createCounter('coordination.cache.lookups', {
      description: 'Cache reads by level (local, redis) and result (hit, miss)',
      unit: '{lookup}',
    });
    this.rateLimitDenied = meter.createCounter('coordination.rate_limit.denied', {
      description: 'Hits refused by a rate limit or the throttler storage',
      unit: '{hit}',
    });
    this.gauges = {
      queueJobs: meter.createObservableGauge('coordination.queue.jobs', {
        description: 'Jobs of a queue by state',
        unit: '{job}',
      }),
      oldestWaiting: meter.createObservableGauge('coordination.queue.oldest_waiting.age', {
        description: 'How long the oldest waiting job of a queue has waited',
        unit: 's',
      }),
      groupLag: meter.createObservableGauge('coordination.pubsub.group.lag', {
        description: 'Messages of a durable channel not yet delivered to a consumer group',
        unit: '{message}',
      }),
      groupPending: meter.createObservableGauge('coordination.pubsub.group.pending', {
        description: 'Messages delivered to a consumer group and not yet acknowledged',
        unit: '{message}',
      }),
    };
  }

  /**
   * True when no meter provider was registered: the API then hands out one shared no-op
   * instrument per kind, so two histograms are the same object.
   */
  get noop(): boolean {
    return this.lockWait === this.lockHold;
  }

  /**
   * Calls `collect` each time the SDK collects, to report gauges; a failure or a read slower
   * than {@link GAUGE_READ_MS} (Redis down) reports nothing that time. Returns the function that
   * stops it.
   */
  addGaugeSource(collect: (recorder: GaugeRecorder) => Promise<void>): () => void {
    const { gauges } = this;
    const callback: BatchObservableCallback = async (result) => {
      const observe = (gauge: ObservableGauge, value: number, attributes: Attributes) =>
        result.observe(gauge, value, attributes);
      // Bounded: while Redis is down its commands wait out their timeout, and every other
      // metric of the app's collection would wait with them.
      const reading = collect({
        queueJobs: (queue, state, count) =>
          observe(gauges.queueJobs, count, {
            'messaging.destination.name': queue,
            'coordination.job.state': state,
          }),
        oldestWaiting: (queue, seconds) =>
          observe(gauges.oldestWaiting, seconds, { 'messaging.destination.name': queue }),
        groupLag: (channel, group, lag) =>
          observe(gauges.groupLag, lag, groupAttributes(channel, group)),
        groupPending: (channel, group, pending) =>
          observe(gauges.groupPending, pending, groupAttributes(channel, group)),
      });
      await waitAtMost(reading, GAUGE_READ_MS);
    };
    const observables = Object.values(gauges);
    this.meter.addBatchObservableCallback(callback, observables);
    return () => this.meter.removeBatchObservableCallback(callback, observables);
  }
}

function groupAttributes(channel: string, group: string): Attributes {
  return { 'messaging.destination.name': channel, 'messaging.consumer.group.name': group };
}
