import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  CounterService,
  QueueService,
  RedisCoordinationModule,
  RedisLockService,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../../support/hooks.js';

/** Bounded only so that what never happens fails the test instead of hanging it. */
const bounded = <T>(what: string, work: Promise<T>) =>
  within(work, 60_000, () => new Error(`${what}: not within 60 s`));

/** A node's replication role, through a connection of the test's own (redis-cli would block). */
async function roleOf(node: Redis): Promise<string | undefined> {
  return /^role:(\w+)/m.exec(await node.info('replication'))?.[1];
}

/**
 * A graceful `CLUSTER FAILOVER` under a mixed workload with the module's default options: Redis
 * redirects every command sent to the demoted master (`MOVED`), and the default batching must
 * follow the redirections rather than hand them to the app.
 */
describeWithRedisServer('a Redis Cluster failing over under load', () => {
  const cluster = useRedisCluster(3, { replicas: 1 });
  closeModulesAfterEach();

  it('rides through a graceful failover with the default options: no call fails', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses }, keyPrefix: 'fo:' }),
    ]);
    const counters = moduleRef.get(CounterService);
    const locks = moduleRef.get(RedisLockService);
    const queue = moduleRef.get(QueueService);
    const errors: unknown[] = [];
    let done = 0;
    let running = true;
    // Names over every slot range, so every master takes part.
    const loop = async (work: (i: number) => Promise<unknown>) => {
      for (let i = 0; running; i++) {
        await work(i).then(
          () => done++,
          (error: unknown) => errors.push(error),
        );
      }
    };
    const loops = [
      ...Array.from({ length: 8 }, (_, l) => loop((i) => counters.increment(`c${l}-${i % 50}`))),
      ...Array.from({ length: 4 }, (_, l) =>
        loop(async (i) => {
          const lock = await locks.acquire(`l${l}-${i % 20}`, { waitMs: 5000 });
          await lock.release();
        }),
      ),
      ...Array.from({ length: 4 }, (_, l) => loop((i) => queue.add(`q${l}-${i % 10}`, { i }))),
    ];

    const nodes = cluster.nodes.map((node) => new Redis(node.url));
    const roles = await Promise.all(nodes.map(roleOf));
    const replica = nodes[roles.indexOf('slave')]!;
    await bounded(
      'work under way',
      waitUntil(() => done > 500),
    );
    const startedAt = performance.now();
    await replica.call('CLUSTER', 'FAILOVER');
    await bounded(
      'the replica promoted',
      waitUntil(async () => (await roleOf(replica)) === 'master'),
    );
    const promotedMs = performance.now() - startedAt;
    const doneAtPromotion = done;
    await bounded(
      'work goes on after it',
      waitUntil(() => done > doneAtPromotion + 2000),
    );
    running = false;
    await Promise.all(loops);
    for (const node of nodes) node.disconnect();

    console.info(
      `graceful failover: replica promoted in ${Math.round(promotedMs)} ms; ${done} calls, ${errors.length} failed`,
    );
    assert.deepEqual(
      errors.map((error) => String(error)),
      [],
    );
  });
});
