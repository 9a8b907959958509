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
export async function tracedAcquire(
  telemetry: Telemetry,
  resource: unknown,
  acquire: () => Promise<Lock | null>,
): Promise<Lock | null> {
  const { tracer, metrics } = telemetry;
  const startedAt = performance.now();
  const span = tracer?.start('lock.acquire', 'internal', resourceAttributes(resource));
  const finish = (outcome: AcquireOutcome, lock?: Lock | null, error?: unknown) => {
    metrics?.lockWait.record((performance.now() - startedAt) / 1000, {
      'coordination.lock.outcome': outcome,
    });
    if (!span) return;
    span.setAttribute('coordination.lock.outcome', outcome);
    if (lock) span.setAttribute('coordination.lock.fencing_token', lock.fencingToken);
    tracer!.end(span, error);
  };
  let lock: Lock | null;
  try {
    lock = await (span ? tracer!.within(span, acquire) : acquire());
  } catch (error) {
    finish(error instanceof LockTimeoutError ? 'timeout' : 'error', undefined, error);
    throw error;
  }
  if (!lock) {
    finish('busy');
  } else if (!lock.outermost) {
    finish('reentered', lock);
  } else {
    finish('acquired', lock);
    followHold(telemetry, lock, span);
  }
  return lock;
}

/** The hold's span (a sibling of the acquire's, linked to it) and metrics, until it ends. */
function followHold(telemetry: Telemetry, lock: Lock, acquireSpan: Span | undefined): void {
  const { tracer, metrics } = telemetry;
  const heldAt = performance.now();
  const attributes = { 'coordination.lock.resources': [...lock.resources] };
  const hold = tracer?.start('lock.hold', 'internal', attributes);
  if (hold && acquireSpan) hold.addLink({ context: acquireSpan.spanContext() });
  let ended = false;
  const end = (outcome: 'released' | 'lost', error?: unknown) => {
    if (ended) return;
    ended = true;
    metrics?.lockHold.record((performance.now() - heldAt) / 1000, {
      'coordination.lock.outcome': outcome,
    });
    if (outcome === 'lost') metrics?.lockLost.add(1);
    if (!hold) return;
    hold.setAttribute('coordination.lock.outcome', outcome);
    tracer!.end(hold, error);
  };
  lock.signal.addEventListener('abort', () => end('lost', lock.signal.reason), { once: true });
  lock.onRelease((release) => {
    end(lock.lost ? 'lost' : 'released');
    return tracer ? tracer.traced('lock.release', 'internal', attributes, release) : release();
  });
}

function resourceAttributes(resource: unknown): Attributes {
  const names = typeof resource === 'string' ? [resource] : resource;
  return Array.isArray(names) && names.every((name) => typeof name === 'string')
    ? { 'coordination.lock.resources': names as string[] }
    : {};
}
