import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, it } from '@jest/globals';
import { RedisCoordinationModule } from '../../../lib/index.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, RedisServer } from '../../support/redis.js';
import { closeModulesAfterEach } from '../../support/hooks.js';
import {
  bounded,
  FailoverWorkload,
  haltWorkloadsAfterEach,
  REPLICA_ACKS,
} from './failover-workload.js';

/**
 * A Sentinel set (a master, two replicas, three sentinels) whose master is killed with SIGKILL
 * under the mixed workload, on two app instances connected through the sentinels.
 */
describeWithRedisServer('a Redis Sentinel failover under load', () => {
  haltWorkloadsAfterEach();
  closeModulesAfterEach();
  let master: RedisServer;
  let replicas: RedisServer[];
  let sentinels: RedisServer[];
  beforeAll(async () => {
    master = await RedisServer.start();
    replicas = await Promise.all(
      [0, 1].map(() =>
        RedisServer.start({
          args: [
            '--replicaof',
            master.host,
            String(master.port),
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      ),
    );
    sentinels = await Promise.all(
      [0, 1, 2].map(() =>
        RedisServer.start({ sentinelOf: { name: 'main', host: master.host, port: master.port } }),
      ),
    );
    for (const sentinel of sentinels) {
      sentinel.cli('SENTINEL', 'SET', 'main', 'quorum', '2');
      sentinel.cli('SENTINEL', 'SET', 'main', 'down-after-milliseconds', '1000');
      sentinel.cli('SENTINEL', 'SET', 'main', 'failover-timeout', '5000');
    }
    await bounded(
      'the replicas in sync',
      waitUntil(() =>
        replicas.every((r) => r.cli('INFO', 'replication').includes('master_link_status:up')),
      ),
    );
    // Each sentinel knows the others (they find each other through the master) before the fault.
    await bounded(
      'the sentinels knowing each other',
      waitUntil(() =>
        sentinels.every((s) => /num-other-sentinels\s+2/.test(s.cli('SENTINEL', 'MASTER', 'main'))),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all([...sentinels, ...replicas, master].map((server) => server.dispose()));
  });

  it('survives the master killed with SIGKILL: with replicaAcks calls fail typed until a replica is promoted, nothing acknowledged is lost', async () => {
    const instance = () =>
      startModule([
        RedisCoordinationModule.forRoot({
          sentinel: {
            sentinels: sentinels.map(({ host, port }) => ({ host, port })),
            name: 'main',
          },
          // Acknowledged writes wait for a replica: without it, 6 jobs the dying master had
          // acknowledged but not yet replicated were lost in one run.
          ...REPLICA_ACKS,
        }),
      ]);
    const workload = await FailoverWorkload.start(await instance(), await instance());
    await bounded(
      'work under way',
      waitUntil(() => workload.succeeded > 500),
    );

    workload.markFault();
    const startedAt = performance.now();
    await master.kill();
    await bounded(
      'a replica promoted',
      waitUntil(() => {
        const [, port] = sentinels[0]!
          .cli('SENTINEL', 'get-master-addr-by-name', 'main')
          .split('\n');
        return replicas.some((replica) => String(replica.port) === port?.trim());
      }),
    );
    const promotedMs = performance.now() - startedAt;
    await workload.finish(
      'Sentinel master SIGKILLed',
      `new master named by the sentinels after ${Math.round(promotedMs)} ms`,
    );
  });
});
