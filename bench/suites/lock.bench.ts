import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { Mutex } from 'redis-semaphore';
import Redlock from 'redlock';
import { RedisLockService } from '../../lib/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';

const UNCONTENDED_TOTAL = 20_000;
const CONTENDERS = 8;
const CONTENDED_MS = 3000;
/** Timed runs of each side, alternating, per contended figure. */
const CONTENDED_PAIRS = 3;
const HOLD_MS = 1;

/** The textbook raw release: delete only if the value is still our token. */
const COMPARE_AND_DELETE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * The least any lock that makes fencing tokens in Redis pays: its acquire must be a script, here
 * one that only reads the clock (the token) and does the `SET NX PX`.
 */
const FENCED_SET_NX =
  "local t = redis.call('TIME') if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return t[1] * 1000000 + t[2] end return 0";

/**
 * The raw lock a user would write by hand: SET NX PX, then compare-and-delete. With
 * `fencedSha`, acquire runs {@link FENCED_SET_NX} instead of `SET`.
 */
function rawLock(client: Redis, sha: string, fencedSha?: string) {
  return {
    async tryAcquire(key: string, token: string): Promise<boolean> {
      if (fencedSha) return (await client.evalsha(fencedSha, 1, key, token, 10_000)) !== 0;
      return (await client.set(key, token, 'PX', 10_000, 'NX')) === 'OK';
    },
    async release(key: string, token: string): Promise<void> {
      await client.evalsha(sha, 1, key, token);
    },
  };
}

/** What 8 contenders looping acquire → hold → release did in one timed run. */
interface ContentionRun {
  waits: number[];
  counts: number[];
  /** Which contender got each acquisition, in order. */
  order: number[];
  failures: number;
  elapsedMs: number;
}

/** Runs `contenders` loops for `durationMs`; `acquire(i)` returns the release function. */
async function contend(
  acquire: (contender: number) => Promise<() => Promise<void>>,
  durationMs: number,
): Promise<ContentionRun> {
  const run: ContentionRun = {
    waits: [],
    counts: new Array<number>(CONTENDERS).fill(0),
    order: [],
    failures: 0,
    elapsedMs: 0,
  };
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    run.counts.map(async (_, contender) => {
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
        run.order.push(contender);
        await sleep(HOLD_MS);
        await release();
      }
    }),
  );
  run.elapsedMs = performance.now() - started;
  return run;
}

/** Several runs as one: throughput of the median run, latencies over every acquisition. */
interface Contention {
  result: RunResult;
  /** The lowest fewest/most ratio of any run. */
  fewestToMost: number;
  backToPrevious: number;
  failures: number;
}

function summarize(runs: ContentionRun[]): Contention {
  const rates = runs.map((r) => (r.waits.length / r.elapsedMs) * 1000).sort((a, b) => a - b);
  const waits = runs.flatMap((r) => r.waits);
  let back = 0;
  let pairs = 0;
  for (const { order } of runs) {
    for (let i = 1; i < order.length; i++) if (order[i] === order[i - 1]) back++;
    pairs += Math.max(0, order.length - 1);
  }
  return {
    result: { ops: waits.length, opsPerSec: rates[rates.length >> 1]!, ...percentiles(waits) },
    fewestToMost: Math.min(...runs.map((r) => Math.min(...r.counts) / Math.max(...r.counts))),
    backToPrevious: back / Math.max(1, pairs),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
  };
}

function describe(c: Contention): string {
  return `fewest/most ${c.fewestToMost.toFixed(2)}, back to previous holder ${(c.backToPrevious * 100).toFixed(1)}%, failed ${c.failures}, wait p99 ${c.result.p99Ms.toFixed(1)} ms, worst ${c.result.maxMs.toFixed(1)} ms`;
}

/**
 * Uncontended acquire+release against raw `SET NX PX` + compare-and-delete and against redlock
 * and redis-semaphore (1 and 8 loops), and 8 contenders on separate connections (one Nest app each) against a 1 ms-polling raw loop.
 */
export const suite: BenchSuite = {
  description: 'locks: uncontended acquire+release and 8 contenders, vs raw SET NX PX loops',
  async run(context) {
    const app = await context.app();
    const locks = app.get(RedisLockService);
    const plain = await context.rawClient();
    const pipelined = await context.rawClient({ enableAutoPipelining: true });
    const sha = String(await plain.script('LOAD', COMPARE_AND_DELETE));
    const fencedSha = String(await plain.script('LOAD', FENCED_SET_NX));
    const tokenPrefix = randomBytes(8).toString('hex');

    const ours = async (i: number) => {
      const lock = await locks.acquire(`u:${i}`);
      await lock.release();
    };
    for (const concurrency of [1, 8]) {
      const rawLoop = (client: Redis, fenced: boolean) => {
        const raw = rawLock(client, sha, fenced ? fencedSha : undefined);
        return async (i: number) => {
          const token = `${tokenPrefix}:${i}`;
          if (!(await raw.tryAcquire(`raw:u:${i}`, token))) throw new Error('raw lock busy');
          await raw.release(`raw:u:${i}`, token);
        };
      };
      let best = { ratio: Infinity } as Awaited<ReturnType<typeof compare>>;
      let bestRaw: readonly [string, Redis] = ['', plain];
      for (const baseline of [
        ['raw ioredis', plain],
        ['raw ioredis + autoPipelining', pipelined],
      ] as const) {
        const result = await compare(
          () => runLoad(rawLoop(baseline[1], false), { total: UNCONTENDED_TOTAL, concurrency }),
          () => runLoad(ours, { total: UNCONTENDED_TOTAL, concurrency }),
        );
        if (result.ratio < best.ratio) {
          best = result;
          bestRaw = baseline;
        }
      }
      context.report({
        suite: 'lock',
        name: `uncontended acquire+release x${UNCONTENDED_TOTAL}, ${concurrency} loop(s)`,
        ...best,
        goal: 0.95,
        note: `vs the faster baseline: ${bestRaw[0]}`,
      });
      // What making the fencing token in Redis costs by itself, on the same baseline client.
      context.report({
        suite: 'lock',
        name: `(floor) raw loop whose acquire is a TIME + SET NX PX script, ${concurrency} loop(s)`,
        ...(await compare(
          () => runLoad(rawLoop(bestRaw[1], false), { total: UNCONTENDED_TOTAL, concurrency }),
          () => runLoad(rawLoop(bestRaw[1], true), { total: UNCONTENDED_TOTAL, concurrency }),
        )),
        note: `any lock whose acquire script makes the fencing token pays at least this; vs ${bestRaw[0]}`,
      });
    }

    // Read holds: one resource per loop, then every loop reading the same resource (readers
    // share it, so they should not wait for each other).
    const rawUncontended = async (i: number) => {
      const token = `${tokenPrefix}:${i}`;
      const raw = rawLock(plain, sha);
      if (!(await raw.tryAcquire(`raw:r:${i}`, token))) throw new Error('raw lock busy');
      await raw.release(`raw:r:${i}`, token);
    };
    for (const [concurrency, shared] of [
      [1, false],
      [8, true],
    ] as const) {
      const reads = async (i: number) => {
        const lock = await locks.acquire(shared ? 'r:shared' : `r:${i}`, { mode: 'read' });
        await lock.release();
      };
      context.report({
        suite: 'lock',
        name: `read lock acquire+release x${UNCONTENDED_TOTAL}, ${concurrency} loop(s)${shared ? ' on one resource' : ''}`,
        ...(await compare(
          () => runLoad(rawUncontended, { total: UNCONTENDED_TOTAL, concurrency }),
          () => runLoad(reads, { total: UNCONTENDED_TOTAL, concurrency }),
        )),
        note: `baseline: raw ioredis SET NX PX + compare-and-delete${shared ? ', one key per loop' : ''}`,
      });
    }

    // The peers a user would pick instead, one at a time and at 8 loops, each with its defaults
    // on a plain client: redlock (one Redis) and redis-semaphore's Mutex.
    const redlock = new Redlock([plain], { retryCount: 0 });
    const peers = [
      [
        'redlock',
        async (i: number) => {
          const lock = await redlock.acquire([`redlock:u:${i}`], 10_000);
          await lock.release();
        },
      ],
      [
        "redis-semaphore's Mutex",
        async (i: number) => {
          const mutex = new Mutex(plain, `mutex:u:${i}`, { lockTimeout: 10_000 });
          await mutex.acquire();
          await mutex.release();
        },
      ],
    ] as const;
    for (const concurrency of [1, 8]) {
      for (const [peer, op] of peers) {
        context.report({
          suite: 'lock',
          name: `uncontended acquire+release x${UNCONTENDED_TOTAL}, ${concurrency} loop(s), vs ${peer}`,
          ...(await compare(
            () => runLoad(op, { total: UNCONTENDED_TOTAL, concurrency }),
            () => runLoad(ours, { total: UNCONTENDED_TOTAL, concurrency }),
          )),
          goal: 1,
          note: `baseline: ${peer} on a plain ioredis client`,
        });
      }
    }

    // Contended: every contender has its own app (own connections), as separate instances would.
    const apps = await Promise.all(Array.from({ length: CONTENDERS }, () => context.app()));
    const services = apps.map((a) => a.get(RedisLockService));
    const rawClients = await Promise.all(
      Array.from({ length: CONTENDERS }, () => context.rawClient()),
    );
    let rawCount = 0;
    const polling = async (contender: number) => {
      // (the raw loop needs no warm-up: its connections are open and it subscribes to nothing)
      const raw = rawLock(rawClients[contender]!, sha);
      const token = `${tokenPrefix}:c${rawCount++}`;
      const deadline = performance.now() + 10_000;
      while (!(await raw.tryAcquire('raw:contended', token))) {
        if (performance.now() > deadline) throw new Error('raw lock: waited 10 s');
        await sleep(1);
      }
      return () => raw.release('raw:contended', token);
    };
    for (const fair of [false, true]) {
      const loop = async (contender: number) => {
        const lock = await services[contender]!.acquire('contended', { waitMs: 10_000, fair });
        return () => lock.release();
      };
      // Warm-up: opens each app's subscriber connection and subscribes it to the channel.
      await contend(loop, 300);
      // Back-to-back pairs, alternating which goes first, as compare() does.
      const rawRuns: ContentionRun[] = [];
      const ourRuns: ContentionRun[] = [];
      const ratios: number[] = [];
      for (let pair = 0; pair < CONTENDED_PAIRS; pair++) {
        const first = pair % 2 === 0 ? polling : loop;
        const second = first === polling ? loop : polling;
        const a = await contend(first, CONTENDED_MS);
        const b = await contend(second, CONTENDED_MS);
        const [raw, ours] = first === polling ? [a, b] : [b, a];
        rawRuns.push(raw);
        ourRuns.push(ours);
        ratios.push((ours.waits.length / ours.elapsedMs) * (raw.elapsedMs / raw.waits.length));
      }
      const raw = summarize(rawRuns);
      const ours = summarize(ourRuns);
      context.report({
        suite: 'lock',
        name: `contended: ${CONTENDERS} apps, hold ${HOLD_MS} ms, ${CONTENDED_PAIRS} x ${CONTENDED_MS / 1000} s${fair ? ', fair' : ''} (acquisitions/s, wait latency)`,
        candidate: ours.result,
        baseline: raw.result,
        ratio: ratios.sort((x, y) => x - y)[ratios.length >> 1]!,
        goal: 1,
        note: `library: ${describe(ours)} | raw 1 ms polling: ${describe(raw)}`,
      });
    }
  },
};
