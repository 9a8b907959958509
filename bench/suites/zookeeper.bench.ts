import { performance } from 'node:perf_hooks';
import zookeeper from 'node-zookeeper-client';
import { RedisLockService, type Lock } from '../../lib/index.js';
import { ZooKeeperServer } from '../../lib/testing/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';

const UNCONTENDED_TOTAL = 500;
const HANDOVERS = 200;

/** A raw node-zookeeper-client call as a promise. */
function call<T>(run: (done: (error: unknown, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, result) => (error ? reject(error as Error) : resolve(result))),
  );
}

/**
 * Hand-over latency: `holder` holds the lock, `waiter` waits for it; the time from the release
 * call to the waiter holding it, over `rounds` rounds.
 */
async function handOvers(
  holder: RedisLockService,
  waiter: RedisLockService,
  backend: 'redis' | 'zookeeper',
  rounds: number,
): Promise<RunResult> {
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    const held = await holder.acquire('handover', { backend });
    const waiting: Promise<Lock> = waiter.acquire('handover', { backend, waitMs: 10_000 });
    // Let the waiter register (its node, or its queue entry) before the release.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const releasedAt = performance.now();
    await held.release();
    const next = await waiting;
    samples.push(performance.now() - releasedAt);
    await next.release();
  }
  const elapsed = performance.now() - started;
  return { ops: rounds, opsPerSec: (rounds / elapsed) * 1000, ...percentiles(samples) };
}

/**
 * Locks on ZooKeeper (one private standalone server, fsync on, as in production) against the
 * client's raw create-ephemeral-sequential + delete, and the hand-over between two app instances
 * on ZooKeeper against the Redis backend.
 */
export const suite: BenchSuite = {
  description: 'ZooKeeper backend: lock acquire+release vs raw create+delete, hand-over vs Redis',
  async run(context) {
    const server = await ZooKeeperServer.start({ syncWrites: true });
    context.defer(() => server.dispose());
    const options = {
      zookeeper: { connectString: server.connectString, root: '/bench' },
    };
    const [a, b] = await Promise.all([context.app(options), context.app(options)]);
    const locks = a.get(RedisLockService);
    const other = b.get(RedisLockService);

    const raw = zookeeper.createClient(server.connectString, { sessionTimeout: 10_000 });
    const connected = new Promise<void>((resolve) => raw.once('connected', () => resolve()));
    raw.connect();
    await connected;
    context.defer(async () => raw.close());
    await call<string>((done) => raw.mkdirp('/raw/lock', done));

    context.report({
      suite: 'zookeeper',
      name: `lock acquire+release x${UNCONTENDED_TOTAL}, 1 loop`,
      ...(await compare(
        () =>
          runLoad(
            async () => {
              const path = await call<string>((done) =>
                raw.create('/raw/lock/n-', zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, done),
              );
              await call<void>((done) => raw.remove(path, (error) => done(error, undefined)));
            },
            { total: UNCONTENDED_TOTAL },
          ),
        () =>
          runLoad(
            async () => {
              const lock = await locks.acquire('u', { backend: 'zookeeper' });
              await lock.release();
            },
            { total: UNCONTENDED_TOTAL },
          ),
        3,
      )),
      note: 'baseline: node-zookeeper-client create (ephemeral sequential) + delete, no lock logic',
    });

    context.report({
      suite: 'zookeeper',
      name: `hand-over to a waiting instance x${HANDOVERS}, ZooKeeper vs Redis backend`,
      ...(await compare(
        () => handOvers(locks, other, 'redis', HANDOVERS),
        () => handOvers(locks, other, 'zookeeper', HANDOVERS),
        1,
      )),
      note: 'latency from release() to the waiter holding the lock; baseline: the Redis backend',
    });
  },
};
