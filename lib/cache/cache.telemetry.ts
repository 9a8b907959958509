import type { Telemetry } from '../telemetry/telemetry.js';

/** What a cache read found, filled in along its path. */
export interface CacheLookup {
  /** The near cache's answer, when the call uses it. */
  local?: 'hit' | 'miss';
  /**
   * Redis' answer: a fresh or stale entry, or a miss (computed here or by another instance);
   * `fill-wait` when the call joined a fill already running in this process.
   */
  result?: 'hit' | 'stale' | 'miss' | 'fill-wait';
}

/**
 * Runs a cache read in a `cache.get` span and counts its lookups by level and result; `read`
 * fills in `lookup` as it goes.
 */
export function tracedLookup(
  telemetry: Telemetry,
  lookup: CacheLookup,
  namespace: string | undefined,
  read: () => Promise<unknown>,
): Promise<unknown> {
  const { tracer, metrics } = telemetry;
  const span = tracer?.start(
    'cache.get',
    'internal',
    namespace === undefined ? {} : { 'coordination.cache.namespace': namespace },
  );
  const done = (error?: unknown) => {
    const { local, result } = lookup;
    if (metrics) {
      if (local)
        metrics.cacheLookups.add(1, {
          'coordination.cache.level': 'local',
          'coordination.cache.result': local,
        });
      if (result && result !== 'fill-wait') {
        const redis = result === 'miss' ? 'miss' : 'hit';
        metrics.cacheLookups.add(1, {
          'coordination.cache.level': 'redis',
          'coordination.cache.result': redis,
        });
      }
    }
    if (!span) return;
    span.setAttribute(
      'coordination.cache.result',
      local === 'hit' ? 'local-hit' : (result ?? 'error'),
    );
    tracer!.end(span, error);
  };
  return (span ? tracer!.within(span, read) : read()).then(
    (value) => {
      done();
      return value;
    },
    (error: unknown) => {
      done(error);
      throw error;
    },
  );
}
