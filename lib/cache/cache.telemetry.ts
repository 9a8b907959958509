import type { Counter } from '@opentelemetry/api';
import type { Span } from '../telemetry/coordination-tracer.js';
import type { Telemetry } from '../telemetry/telemetry.js';

/**
 * What Redis answered a cache read; `fill-wait`: a miss that waited for a fill running in this
 * process or on another instance (counted as a miss, or not at all when it joined one here).
 */
export type CacheResult = 'hit' | 'stale' | 'miss' | 'fill-wait';

/**
 * What one cache read found, told along its path: counted as it is told (so a read without a
 * span costs no extra step), and named on the read's span when there is one.
 */
export class CacheLookup {
  private localHit = false;
  private result?: CacheResult;

  constructor(private readonly lookups: Counter | undefined) {}

  /** The near cache's answer. */
  local(hit: boolean): void {
    this.localHit = hit;
    this.lookups?.add(1, {
      'coordination.cache.level': 'local',
      'coordination.cache.result': hit ? 'hit' : 'miss',
    });
  }

  /** Redis' answer (or the fill this read joined). */
  found(result: CacheResult): void {
    this.result = result;
    if (result === 'fill-wait') return;
    this.lookups?.add(1, {
      'coordination.cache.level': 'redis',
      'coordination.cache.result': result === 'miss' ? 'miss' : 'hit',
    });
  }

  /** The span attribute `coordination.cache.result` (`unavailable`: served without Redis). */
  get described(): string {
    return this.localHit ? 'local-hit' : (this.result ?? 'unavailable');
  }
}

/**
 * Runs a cache read, telling `read` a {@link CacheLookup} to fill in; with an SDK registered, in
 * a `cache.get` span that ends with what the read found.
 */
export function tracedLookup(
  telemetry: Telemetry,
  namespace: string | undefined,
  read: (lookup: CacheLookup | undefined) => Promise<unknown>,
): Promise<unknown> {
  const { tracer, metrics } = telemetry;
  const span: Span | undefined = tracer?.start(
    'cache.get',
    'internal',
    namespace === undefined ? {} : { 'coordination.cache.namespace': namespace },
  );
  if (!span && !metrics) return read(undefined);
  const lookup = new CacheLookup(metrics?.cacheLookups);
  if (!span) return read(lookup);
  return tracer!.runIn(
    span,
    () => read(lookup),
    () => ({ 'coordination.cache.result': lookup.described }),
  );
}
