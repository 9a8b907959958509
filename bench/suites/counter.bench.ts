import type { Redis } from 'ioredis';
import { RedisConnections } from '../../lib/connection/redis-connections.js';
import { CounterService } from '../../lib/index.js';
import type { BenchContext, BenchSuite } from '../support/bench-context.js';
import { compare, runLoad } from '../support/measure.js';

const TOTAL = 50_000;

/**
 * Runs `ours` against the raw workload on ioredis with and without auto-pipelining and keeps
 * the comparison with the harder (faster) raw baseline.
 */
export async function againstBestRaw(
  context: BenchContext,
  raw: (client: Redis) => (i: number) => Promise<unknown>,
  ours: (i: number) => Promise<unknown>,
  load: { total: number; concurrency: number },
): Promise<Awaited<ReturnType<typeof compare>> & { note: string }> {
  let best: (Awaited<ReturnType<typeof compare>> & { note: string }) | undefined;
  for (const enableAutoPipelining of [false, true]) {
    const op = raw(await context.rawClient({ enableAutoPipelining }));
    const result = await compare(
      () => runLoad(op, load),
      () => runLoad(ours, load),
    );
    if (!best || result.ratio < best.ratio) {
      const baseline = enableAutoPipelining ? 'raw ioredis + autoPipelining' : 'raw ioredis';
      best = { ...result, note: `vs the faster baseline: ${baseline}` };
    }
  }
  return best!;
}

/**
 * `CounterService.increment()` (a plain INCRBY while the counter is below 2^50) against a raw
 * `INCR`, one at a time and 64 in flight; then, for information, the script paths (`ttlMs`,
 * `hit()`) against the same raw INCR.
 */
export const suite: BenchSuite = {
  description: 'CounterService.increment vs raw INCR (better of with/without auto-pipelining)',
  async run(context) {
    const app = await context.app();
    const counters = app.get(CounterService);
    const { command } = app.get(RedisConnections);
    for (const concurrency of [1, 64]) {
      // The module's command connection alone: the bound any service on it can reach.
      const bound = await againstBestRaw(
        context,
        (client) => () => client.incr('bench:raw-counter'),
        () => command.incr('bench:command-counter'),
        { total: TOTAL, concurrency },
      );
      context.report({
        suite: 'counter',
        name: `(bound) command connection INCR x${TOTAL}, ${concurrency} in flight`,
        ...bound,
      });
      const result = await againstBestRaw(
        context,
        (client) => () => client.incr('bench:raw-counter'),
        () => counters.increment('bench-counter'),
        { total: TOTAL, concurrency },
      );
      context.report({
        suite: 'counter',
        name: `increment x${TOTAL}, ${concurrency} in flight`,
        goal: 0.95,
        ...result,
      });
    }
    const withTtl = await againstBestRaw(
      context,
      (client) => () => client.incr('bench:raw-counter'),
      () => counters.increment('bench-ttl-counter', 1, { ttlMs: 600_000 }),
      { total: 20_000, concurrency: 64 },
    );
    context.report({
      suite: 'counter',
      name: 'increment with ttlMs (script) x20000, 64 in flight (info: vs INCR)',
      ...withTtl,
    });
    const hits = await againstBestRaw(
      context,
      (client) => () => client.incr('bench:raw-hits'),
      (i) => counters.hit(`bench-hit:${i % 100}`, { limit: 1_000_000, windowMs: 60_000 }),
      { total: 20_000, concurrency: 64 },
    );
    context.report({
      suite: 'counter',
      name: 'hit() sliding window x20000, 64 in flight (info: vs INCR)',
      ...hits,
    });
  },
};
