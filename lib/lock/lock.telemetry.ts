import { performance } from 'node:perf_hooks';
import type { Attributes } from '@opentelemetry/api';
import type { Span } from '../telemetry/coordination-tracer.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { LockTimeoutError } from './lock.errors.js';
import type { Lock } from './lock.handle.js';

/** How an acquire ended, as the span and the wait histogram name it. */
type AcquireOutcome = 'acquired' | 'reentered' | 'busy' | 'timeout' | 'error';

/**
 * Runs an acquire in a `lock.acquire` span, records its wait by outcome, and follows the lock it
 * returns: a `lock.hold` span and the hold histogram until it is released or lost (counted), and
 * a `lock.release` span around the release.
 */
export function tracedAcquire(
  telemetry: Telemetry,
  resource: unknown,
  acquire: () => Promise<Lock | null>,
): Promise<Lock | null> {
  const { tracer, metrics } = telemetry;
  const startedAt = performance.now();
  const span = tracer?.start('lock.acquire', 'internal', {});
  if (!span && !metrics) return acquire();
  span?.setAttributes(resourceAttributes(resource));
  const finish = (outcome: AcquireOutcome, lock?: Lock | null, error?: unknown) => {
    metrics?.lockWait.record((performance.now() - startedAt) / 1000, {
      'coordination.lock.outcome': outcome,
    });
    if (!span) return;
    span.setAttribute('coordination.lock.outcome', outcome);
    if (lock) span.setAttribute('coordination.lock.fencing_token', lock.fencingToken);
    tracer!.end(span, error);
  };
  return (span ? tracer!.within(span, acquire) : acquire()).then(
    (lock) => {
      // Telemetry must never cost the caller a lock it holds: a failure here is dropped.
      try {
        if (!lock) {
          finish('busy');
        } else if (!lock.outermost) {
          finish('reentered', lock);
        } else {
          finish('acquired', lock);
          followHold(telemetry, lock, span);
        }
      } catch {
        // (an SDK or exporter that throws)
      }
      return lock;
    },
    (error: unknown) => {
      finish(error instanceof LockTimeoutError ? 'timeout' : 'error', undefined, error);
      throw error;
    },
  );
}

/** The hold's span (linked to the acquire's) and metrics, until it is released or lost. */
function followHold(telemetry: Telemetry, lock: Lock, acquireSpan: Span | undefined): void {
  const { tracer, metrics } = telemetry;
  const heldAt = performance.now();
  // No acquire span: no SDK, so none for the hold either.
  const attributes = acquireSpan && { 'coordination.lock.resources': [...lock.resources] };
  const hold =
    attributes &&
    tracer!.start('lock.hold', 'internal', attributes, undefined, [
      { context: acquireSpan.spanContext() },
    ]);
  lock.held.onEnd((ending) => {
    const outcome = 'lost' in ending ? 'lost' : 'released';
    metrics?.lockHold.record((performance.now() - heldAt) / 1000, {
      'coordination.lock.outcome': outcome,
    });
    if ('lost' in ending) metrics?.lockLost.add(1);
    if (!hold || !attributes) return;
    hold.setAttribute('coordination.lock.outcome', outcome);
    if ('lost' in ending) {
      tracer!.end(hold, ending.lost);
      return;
    }
    tracer!.end(hold);
    // The caller gets the release's own failure; the span only records it.
    tracer!
      .traced('lock.release', 'internal', attributes, () => ending.released)
      .catch(() => undefined);
  });
}

function resourceAttributes(resource: unknown): Attributes {
  const names = typeof resource === 'string' ? [resource] : resource;
  return Array.isArray(names) && names.every((name) => typeof name === 'string')
    ? { 'coordination.lock.resources': names as string[] }
    : {};
}
