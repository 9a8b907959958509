import { performance } from 'node:perf_hooks';
import { afterEach, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  RedisCoordinationModule,
  type RedisCoordinationModuleOptions,
} from '../../../lib/index.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, type RedisClusterServers } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../../support/hooks.js';
import {
  bounded,
  FailoverWorkload,
  haltWorkloadsAfterEach,
  REPLICA_ACKS,
} from './failover-workload.js';

/** A node's replication role, through a connection of the test's own (redis-cli would block). */
async function roleOf(node: Redis): Promise<string | undefined> {
  return /^role:(\w+)/m.exec(await node.info('replication'))?.[1];
}

/**
 * Sends `CLUSTER FAILOVER` to `replica` until it is a master; returns how many it took. Redis
 * aborts a manual failover not done within 5 s, telling only its log; a replica still not
 * promoted 10 s later (2 runs in about 20 under the workload) is asked again, as an operator
 * would.
 */
async function promote(
  replica: Redis,
  workload: FailoverWorkload,
): Promise<{ attempts: number; promotedMs: number }> {
  for (let attempts = 1; ; attempts++) {
    workload.markFault(); // the fault starts with the attempt that works
    const startedAt = performance.now();
    await replica.call('CLUSTER', 'FAILOVER');
    while (performance.now() < startedAt + 10_000) {
      if ((await roleOf(replica)) === 'master') {
        return { attempts, promotedMs: performance.now() - startedAt };
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/**
 * Registers the hooks of a suite that fails over a 3-master Cluster with `replicas` per master
 * under the workload: the cluster, and connections of the test's own to each node
 * (`connectToNodes()`), closed after each test with the workload and its modules.
 */
function useFailingCluster(replicas: number): {
  cluster: RedisClusterServers;
  connectToNodes: () => Redis[];
} {
  const cluster = useRedisCluster(3, { replicas });
  let nodes: Redis[] = [];
  afterEach(() => {
    for (const node of nodes) node.disconnect();
    nodes = [];
  });
  haltWorkloadsAfterEach();
  closeModulesAfterEach();
  const connectToNodes = () => {
    nodes = cluster.nodes.map((node) => new Redis(node.url, { disconnectTimeout: 0 }));
    return nodes;
  };
  return { cluster, connectToNodes };
}

/** Runs the mixed workload on two app instances connected to `cluster`, until it is under way. */
async function workloadUnderWay(
  cluster: RedisClusterServers,
  options: Partial<RedisCoordinationModuleOptions> = {},
): Promise<FailoverWorkload> {
  const instance = () =>
    startModule([
      RedisCoordinationModule.forRoot({
        cluster: { nodes: cluster.addresses },
        keyPrefix: 'fo:',
        ...options,
      }),
    ]);
  const workload = await FailoverWorkload.start(await instance(), await instance());
  await bounded(
    'work under way',
    waitUntil(() => workload.succeeded > 500),
  );
  return workload;
}

/**
 * Each failover runs with plain pub/sub (the default) and with sharded pub/sub, whose
 * subscriptions live on each channel's shard and must follow it to the promoted replica.
 */
const PUBSUB_MODES: ReadonlyArray<[string, Partial<RedisCoordinationModuleOptions>]> = [
  ['plain pub/sub', {}],
  ['sharded pub/sub', { shardedPubSub: true }],
];

for (const [pubsubMode, pubsubOptions] of PUBSUB_MODES) {
  /**
   * A graceful failover of a 3-master Cluster (a replica each) under the mixed workload, with the
   * module's default options but for pub/sub, on two app instances.
   */
  describeWithRedisServer(`a Redis Cluster failing over under load (${pubsubMode})`, () => {
    const { cluster, connectToNodes } = useFailingCluster(1);

    it('rides through a graceful CLUSTER FAILOVER: any failed call is typed, nothing is lost', async () => {
      const nodes = connectToNodes();
      const roles = await Promise.all(nodes.map(roleOf));
      const replica = nodes[roles.indexOf('slave')]!;
      const workload = await workloadUnderWay(cluster, pubsubOptions);

      const { attempts, promotedMs } = await bounded(
        'the replica promoted',
        promote(replica, workload),
      );
      await workload.finish(
        `graceful CLUSTER FAILOVER, ${pubsubMode}`,
        `replica promoted in ${Math.round(promotedMs)} ms (${attempts} CLUSTER FAILOVER)`,
      );
    });
  });

  /**
   * A master of a 3-master Cluster killed with SIGKILL under the mixed workload. Each master has two
   * replicas: with `replicaAcks: { replicas: 1 }` a shard must keep a replica after one is
   * promoted, or every acknowledged write to its slots fails with ReplicaAckError (rightly: nothing
   * else has it) until the old master returns as a replica.
   */
  describeWithRedisServer(`a Redis Cluster master killed under load (${pubsubMode})`, () => {
    const { cluster, connectToNodes } = useFailingCluster(2);

    it('survives a master killed with SIGKILL: with replicaAcks calls fail typed until a replica is promoted, nothing acknowledged is lost', async () => {
      const nodes = connectToNodes();
      const roles = await Promise.all(nodes.map(roleOf));
      const victim = roles.indexOf('master');
      const replicas = nodes.filter((_, i) => roles[i] === 'slave');
      // Acknowledged writes wait for a replica: without it a master killed right after
      // acknowledging a job it had not yet replicated loses it.
      const workload = await workloadUnderWay(cluster, { ...REPLICA_ACKS, ...pubsubOptions });

      workload.markFault();
      const startedAt = performance.now();
      nodes[victim]!.disconnect();
      await cluster.nodes[victim]!.kill();
      await bounded(
        'a replica promoted',
        waitUntil(async () => {
          // Only the victim's replicas can be promoted: no other master fails.
          const replicaRoles = await Promise.all(replicas.map(roleOf));
          return replicaRoles.includes('master');
        }),
      );
      const promotedMs = performance.now() - startedAt;
      await workload.finish(
        `Cluster master SIGKILLed, ${pubsubMode}`,
        `a replica promoted after ${Math.round(promotedMs)} ms`,
      );
    });
  });
}
