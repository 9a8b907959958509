import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { SemaphoreService } from '../../lib/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';

const UNCONTENDED_TOTAL = 5000;
/** The limit of the uncontended semaphores (each operation uses a semaphore of its own). */
const LIMIT = 4;
const CONTENDERS = 8;
const CONTENDED_LIMIT = 2;
const CONTENDED_MS = 2000;
/** Timed runs of each side, alternating, for the contended figure. */
const CONTENDED_PAIRS = 3;
const HOLD_MS = 1;

/** The textbook raw release: delete only if the value is still our token. */
const COMPARE_AND_DELETE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** What the contenders looping acquire → hold → release did in one timed run. */
interface ContentionRun {
  waits: number[];
  /** Acquisitions per contender. */
  counts: number[];
  failures: number;
  elapsedMs: number;
}

/** Runs {@link CONTENDERS} loops for `durationMs`; `acquire(i)` returns the release function. */
async function contend(
  acquire: (contender: number) => Promise<() => Promise<void>>,
  durationMs: number,
): Promise<ContentionRun> {
  const run: ContentionRun = {
    waits: [],
    counts: new Array<number>(CONTENDERS).fill(0),
    failures: 0,
    elapsedMs: 0,
  };
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: CONTENDERS }, async (_, contender) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        let release: () => Promise<void>;
        try {
          release = await acquire(contender);
        } catch {
          run.failures++;
          continue;
        }
        run.waits.push(performance.now() - t0);
        run.counts[contender]!++;
        await sleep(HOLD_MS);
        await release();
      }
    }),
  );
  run.elapsedMs = performance.now() - started;
  return run;
}

/** Several runs as one: throughput of the median run, wait latencies over every acquisition. */
interface Contention {
  result: RunResult;
  /** The lowest fewest/most acquisitions-per-contender ratio of any run. */
  fewestToMost: number;
  failures: number;
}

function summarize(runs: ContentionRun[]): Contention {
  const rates = runs.map((r) => (r.waits.length / r.elapsedMs) * 1000).sort((a, b) => a - b);
  const waits = runs.flatMap((r) => r.waits);
  return {
    result: { ops: waits.length, opsPerSec: rates[rates.length >> 1]!, ...percentiles(waits) },
    fewestToMost: Math.min(...runs.map((r) => Math.min(...r.counts) / Math.max(...r.counts))),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
  };
}

/**
 * Uncontended acquire+release against raw `SET NX PX` + compare-and-delete and against
 * redis-semaphore's `Semaphore` (1 and 8 loops), and 8 apps contending for 2 permits against
 * redis-semaphore's polling.
 */
export const suite: BenchSuite = {
  description:
    'semaphores: uncontended acquire+release vs raw SET NX PX and redis-semaphore; 8 apps, 2 permits',
  async run(context) {
    const app = await context.app();
    const semaphores = app.get(SemaphoreService);
    const plain = await context.rawClient();
    const pipelined = await context.rawClient({ enableAutoPipelining: true });
    const sha = String(await plain.script('LOAD', COMPARE_AND_DELETE));
    const tokenPrefix = randomBytes(8).toString('hex');

    const ours = async (i: number) => {
      const permit = await semaphores.acquire(`u:${i}`, { limit: LIMIT });
      await permit.release();
    };
    const rawLoop = (client: Redis) => async (i: number) => {
      const token = `${tokenPrefix}:${i}`;
      if ((await client.set(`raw:u:${i}`, token, 'PX', 10_000, 'NX')) !== 'OK') {
        throw new Error('raw lock busy');
      }
      await client.evalsha(sha, 1, `raw:u:${i}`, token);
    };
    const theirs = async (i: number) => {
      const semaphore = new Semaphore(plain, `u:${i}`, LIMIT, { lockTimeout: 10_000 });
      await semaphore.acquire();
      await semaphore.release();
    };
    for (const concurrency of [1, 8]) {
      let best = { ratio: Infinity } as Awaited<ReturnType<typeof compare>>;
      let bestRaw = '';
      for (const [label, client] of [
        ['raw ioredis', plain],
        ['raw ioredis + autoPipelining', pipelined],
      ] as const) {
        const result = await compare(
          () => runLoad(rawLoop(client), { total: UNCONTENDED_TOTAL, concurrency }),
          () => runLoad(ours, { total: UNCONTENDED_TOTAL, concurrency }),
        );
        if (result.ratio < best.ratio) [best, bestRaw] = [result, label];
      }
      context.report({
        suite: 'semaphore',
        name: `uncontended acquire+release x${UNCONTENDED_TOTAL}, ${concurrency} loop(s), vs raw SET NX PX`,
        ...best,
        goal: 0.8,
        note: `baseline: SET NX PX + compare-and-delete script on the faster of ${bestRaw}`,
      });
      context.report({
        suite: 'semaphore',
        name: `uncontended acquire+release x${UNCONTENDED_TOTAL}, ${concurrency} loop(s), vs redis-semaphore`,
        ...(await compare(
          () => runLoad(theirs, { total: UNCONTENDED_TOTAL, concurrency }),
          () => runLoad(ours, { total: UNCONTENDED_TOTAL, concurrency }),
        )),
        goal: 1,
        note: `baseline: redis-semaphore ${LIMIT}-permit Semaphore, its defaults, on a plain ioredis client`,
      });
    }

    // Contended: every contender has its own app (own connections), as separate instances would;
    // redis-semaphore polls every 10 ms (its default retryInterval).
    const apps = await Promise.all(Array.from({ length: CONTENDERS }, () => context.app()));
    const services = apps.map((a) => a.get(SemaphoreService));
    const clients = await Promise.all(
      Array.from({ length: CONTENDERS }, () => context.rawClient()),
    );
    const options = { limit: CONTENDED_LIMIT, waitMs: 10_000 };
    const loop = async (contender: number) => {
      const permit = await services[contender]!.acquire('contended', options);
      return () => permit.release();
    };
    const polling = async (contender: number) => {
      const semaphore = new Semaphore(clients[contender]!, 'contended', CONTENDED_LIMIT, {
        lockTimeout: 10_000,
      });
      await semaphore.acquire();
      return () => semaphore.release();
    };
    await contend(loop, 300); // warm-up: each app's subscriber connection and channel
    await contend(polling, 300);
    const pollingRuns: ContentionRun[] = [];
    const ourRuns: ContentionRun[] = [];
    const ratios: number[] = [];
    for (let pair = 0; pair < CONTENDED_PAIRS; pair++) {
      const first = pair % 2 === 0 ? polling : loop;
      const a = await contend(first, CONTENDED_MS);
      const b = await contend(first === polling ? loop : polling, CONTENDED_MS);
      const [theirRun, ourRun] = first === polling ? [a, b] : [b, a];
      pollingRuns.push(theirRun);
      ourRuns.push(ourRun);
      ratios.push(
        (ourRun.waits.length / ourRun.elapsedMs) * (theirRun.elapsedMs / theirRun.waits.length),
      );
    }
    const them = summarize(pollingRuns);
    const us = summarize(ourRuns);
    const describe = (side: Contention) =>
      `fewest/most ${side.fewestToMost.toFixed(2)}, wait p50 ${side.result.p50Ms.toFixed(1)} ms, p99 ${side.result.p99Ms.toFixed(1)} ms, worst ${side.result.maxMs.toFixed(1)} ms, failed ${side.failures}`;
    context.report({
      suite: 'semaphore',
      name: `contended: ${CONTENDERS} apps, ${CONTENDED_LIMIT} permits, hold ${HOLD_MS} ms, ${CONTENDED_PAIRS} x ${CONTENDED_MS / 1000} s, vs redis-semaphore`,
      candidate: us.result,
      baseline: them.result,
      ratio: ratios.sort((x, y) => x - y)[ratios.length >> 1]!,
      note: `library: ${describe(us)} | redis-semaphore (10 ms polling): ${describe(them)}`,
    });
  },
};
