import { performance } from 'node:perf_hooks';
import { CounterService, PubSubService, QueueService } from '../../lib/index.js';
import { RedisClusterServers } from '../../lib/testing/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, runLoad, type RunResult } from '../support/measure.js';

const BROADCAST_TOTAL = 30_000;
const IN_FLIGHT = 64;
/** Channels, queues and counter keys a spread workload uses: 6 hash tags over 3 masters. */
const SHARDS = 6;
const JOBS = 12_000;
const INCREMENTS = 30_000;
const PAD = 'x'.repeat(70);

/** Publishes `total` messages round-robin over `channels` and waits until all arrived. */
async function broadcast(pubsub: PubSubService, channels: readonly string[]): Promise<RunResult> {
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const offs = await Promise.all(
    channels.map((channel) =>
      pubsub.subscribe(channel, () => {
        if (++received === BROADCAST_TOTAL) done();
      }),
    ),
  );
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < BROADCAST_TOTAL) {
        const i = next++;
        await pubsub.publish(channels[i % channels.length]!, { i, pad: PAD });
      }
    }),
  );
  await all;
  const elapsed = performance.now() - started;
  await Promise.all(offs.map((off) => off()));
  return {
    ops: BROADCAST_TOTAL,
    opsPerSec: (BROADCAST_TOTAL / elapsed) * 1000,
    p50Ms: 0,
    p99Ms: 0,
    maxMs: 0,
  };
}

let run = 0;

/** Adds JOBS jobs spread over `queues` and drains them with one worker per queue. */
async function jobs(queue: QueueService, shards: number): Promise<RunResult> {
  const names = Array.from({ length: shards }, (_, s) => `spread-${run}-${s}`);
  run++;
  let processed = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const workers = names.map((name) =>
    queue.process(
      name,
      () => {
        if (++processed === JOBS) done();
      },
      { concurrency: Math.ceil(16 / shards) },
    ),
  );
  const started = performance.now();
  await runLoad((i) => queue.add(names[i % shards]!, { i }), { total: JOBS, concurrency: 16 });
  await all;
  const elapsed = performance.now() - started;
  await Promise.all(workers.map((worker) => worker.close()));
  return { ops: JOBS, opsPerSec: (JOBS / elapsed) * 1000, p50Ms: 0, p99Ms: 0, maxMs: 0 };
}

/**
 * The library on a local 3-master Redis Cluster (no replicas; started by the suite, pinned with
 * the bench to one CPU like the single server):
 * - broadcast over 6 channels on the cluster with sharded pub/sub vs the same on the
 *   single server, and the cluster with plain PUBLISH (`shardedPubSub: false`) vs sharded;
 * - one logical queue spread over 6 queue names (hash tags on every master) vs one name, and a
 *   counter spread over 6 keys vs one key, both on the cluster.
 * On this 2-core machine the three masters share a CPU with each other and with the client, so
 * spreading cannot show the parallelism a cluster of real machines gives; it shows the cost.
 */
export const suite: BenchSuite = {
  description:
    'Cluster: sharded broadcast vs one server and plain PUBLISH; one workload spread over 6 hash tags vs one',
  async run(context) {
    const cluster = await RedisClusterServers.start(3);
    context.defer(() => cluster.dispose());
    const onCluster = { cluster: { nodes: cluster.addresses } };
    const single = (await context.app()).get(PubSubService);
    const sharded = await context.app({ ...onCluster, shardedPubSub: true });
    const plain = (await context.app(onCluster)).get(PubSubService);
    const channels = Array.from({ length: SHARDS }, (_, i) => `news-${i}`);

    const report = (
      name: string,
      result: Awaited<ReturnType<typeof compare>>,
      note: string,
      goal?: number,
    ) => context.report({ suite: 'cluster', name, ...result, goal, note });

    report(
      `broadcast ${BROADCAST_TOTAL} msgs ~100 B over ${SHARDS} channels: 3-master cluster (sharded) vs one server`,
      await compare(
        () => broadcast(single, channels),
        () => broadcast(sharded.get(PubSubService), channels),
        5,
      ),
      'msgs/s delivered; baseline: the library on the single server',
      1,
    );
    report(
      `broadcast as above on the cluster: sharded (SPUBLISH) vs plain PUBLISH`,
      await compare(
        () => broadcast(plain, channels),
        () => broadcast(sharded.get(PubSubService), channels),
        5,
      ),
      'msgs/s delivered; baseline: shardedPubSub: false',
    );
    const queue = sharded.get(QueueService);
    report(
      `queue: ${JOBS} jobs added and processed, spread over ${SHARDS} queue names vs one`,
      await compare(
        () => jobs(queue, 1),
        () => jobs(queue, SHARDS),
        5,
      ),
      'jobs/s end to end on the cluster; baseline: one queue name (one hash tag, one master)',
    );
    const counters = sharded.get(CounterService);
    report(
      `counter: ${INCREMENTS} increments, 16 in flight, spread over ${SHARDS} keys vs one`,
      await compare(
        () => runLoad(() => counters.increment('hits'), { total: INCREMENTS, concurrency: 16 }),
        () =>
          runLoad((i) => counters.increment(`hits-${i % SHARDS}`), {
            total: INCREMENTS,
            concurrency: 16,
          }),
        5,
      ),
      'increments/s on the cluster; baseline: one key',
    );
  },
};
