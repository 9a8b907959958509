import { performance } from 'node:perf_hooks';
import { afterEach, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  RedisCoordinationModule,
  type RedisCoordinationModuleOptions,
} from '../../../lib/index.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../../support/hooks.js';
import { assertNothingLost, bounded, FailoverWorkload, summary } from './failover-workload.js';

/** A node's replication role, through a connection of the test's own (redis-cli would block). */
async function roleOf(node: Redis): Promise<string | undefined> {
  return /^role:(\w+)/m.exec(await node.info('replication'))?.[1];
}

/**
 * Failovers of a 3-master Cluster (a replica each) under the mixed workload, with the module's
 * default options (sharded pub/sub included), on two app instances.
 */
describeWithRedisServer('a Redis Cluster failing over under load', () => {
  const cluster = useRedisCluster(3, { replicas: 1 });
  closeModulesAfterEach();
  let nodes: Redis[] = [];
  afterEach(() => {
    for (const node of nodes) node.disconnect();
    nodes = [];
  });

  const instance = (options: Partial<RedisCoordinationModuleOptions>) =>
    startModule([
      RedisCoordinationModule.forRoot({
        cluster: { nodes: cluster.addresses },
        keyPrefix: 'fo:',
        ...options,
      }),
    ]);

  async function workloadUnderWay(
    options: Partial<RedisCoordinationModuleOptions> = {},
  ): Promise<FailoverWorkload> {
    const workload = await FailoverWorkload.start(await instance(options), await instance(options));
    await bounded(
      'work under way',
      waitUntil(() => workload.succeeded > 500),
    );
    return workload;
  }

  it('rides through a graceful CLUSTER FAILOVER: any failed call is typed, nothing is lost', async () => {
    nodes = cluster.nodes.map((node) => new Redis(node.url, { disconnectTimeout: 0 }));
    const roles = await Promise.all(nodes.map(roleOf));
    const replica = nodes[roles.indexOf('slave')]!;
    const workload = await workloadUnderWay();

    workload.markFault();
    const startedAt = performance.now();
    await replica.call('CLUSTER', 'FAILOVER');
    await bounded(
      'the replica promoted',
      waitUntil(async () => (await roleOf(replica)) === 'master'),
    );
    const promotedMs = performance.now() - startedAt;
    const recoveredMs = await workload.recovered();
    const report = await workload.stop();

    console.info(
      `${summary('graceful CLUSTER FAILOVER', recoveredMs, report)}; replica promoted in ${Math.round(promotedMs)} ms`,
    );
    assertNothingLost(report);
  });
});
