import { performance } from 'node:perf_hooks';
import { LiveConfigService } from '../../lib/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { percentiles, runLoad, type RunResult } from '../support/measure.js';

const INSTANCES = 10;
const CHANGES = 200;
const GETS = 5_000_000;

/**
 * Live configuration: `get()` (a snapshot lookup) against a raw `HGET` per read; and how long a
 * `set()` takes to be seen by 10 instances, against raw ioredis doing the same Redis work (a
 * `MULTI` of `HSET` + `PUBLISH`, 10 subscribed clients) in the same run.
 */
export const suite: BenchSuite = {
  description:
    'LiveConfigService: get() vs raw HGET; a set() seen by 10 instances vs raw HSET+PUBLISH',
  async run(context) {
    const apps = await Promise.all(
      Array.from({ length: INSTANCES }, () => context.app({ liveConfig: { keys: ['flags'] } })),
    );
    const configs = apps.map((app) => app.get(LiveConfigService));
    const writer = configs[0]!;
    await writer.set('flags', { on: false });

    const raw = await context.rawClient();
    await raw.hset('bench:raw-flags', 'version', 1, 'value', '{"on":false}');
    const started = performance.now();
    for (let i = 0; i < GETS; i++) writer.get('flags');
    const elapsed = performance.now() - started;
    const gets: RunResult = {
      ops: GETS,
      opsPerSec: (GETS / elapsed) * 1000,
      p50Ms: elapsed / GETS,
      p99Ms: elapsed / GETS,
      maxMs: elapsed / GETS,
    };
    const hgets = await runLoad(() => raw.hget('bench:raw-flags', 'value'), { total: 20_000 });
    context.report({
      suite: 'config',
      name: `get() x${GETS} (mean per call) vs raw HGET x20000, 1 in flight`,
      candidate: gets,
      baseline: hgets,
      ratio: gets.opsPerSec / hgets.opsPerSec,
    });

    // A set() seen everywhere: time from the call until each instance applied it.
    const seen: number[] = [];
    let sentAt = 0;
    let pending = 0;
    let done: () => void = () => undefined;
    const subscriptions = configs.map((config) =>
      config.changesOf('flags').subscribe(() => {
        seen.push(performance.now() - sentAt);
        if (--pending === 0) done();
      }),
    );
    const throughLibrary = await timeChanges(async (i) => {
      await writer.set('flags', { on: i % 2 === 0 });
    });
    for (const subscription of subscriptions) subscription.unsubscribe();

    const subscribers = await Promise.all(
      Array.from({ length: INSTANCES }, () => context.rawClient()),
    );
    for (const subscriber of subscribers) {
      await subscriber.subscribe('bench:raw-flags:changed');
      subscriber.on('message', () => {
        seen.push(performance.now() - sentAt);
        if (--pending === 0) done();
      });
    }
    const throughRaw = await timeChanges(async (i) => {
      const text = JSON.stringify({ on: i % 2 === 0 });
      await raw
        .multi()
        .hset('bench:raw-flags', 'version', i + 2, 'value', text)
        .publish('bench:raw-flags:changed', `${i + 2}:${text}`)
        .exec();
    });
    context.report({
      suite: 'config',
      name: `set() seen by ${INSTANCES} instances, x${CHANGES} (latency from the call until each instance has it)`,
      candidate: throughLibrary,
      baseline: throughRaw,
      ratio: throughRaw.p99Ms / throughLibrary.p99Ms,
      note: 'ratio of p99 latencies (raw / library): 1 means as fast as raw pub/sub',
    });

    async function timeChanges(change: (i: number) => Promise<void>): Promise<RunResult> {
      seen.length = 0;
      const started = performance.now();
      for (let i = 0; i < CHANGES; i++) {
        const all = new Promise<void>((resolve) => (done = resolve));
        pending = INSTANCES;
        sentAt = performance.now();
        await change(i);
        await all;
      }
      const elapsed = performance.now() - started;
      return { ops: CHANGES, opsPerSec: (CHANGES / elapsed) * 1000, ...percentiles(seen) };
    }
  },
};
