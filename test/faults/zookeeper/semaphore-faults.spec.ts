import { afterAll, beforeAll, it } from '@jest/globals';
import { RedisCoordinationModule } from '../../../lib/index.js';
import { resumeLostHolder, stressPastCrashedHolders } from '../semaphore/crashed-holders.js';
import { semaphoreParent } from '../../../lib/semaphore/zookeeper-semaphore.nodes.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { ChildApp } from '../../support/child-process.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import {
  describeWithZooKeeper,
  startTestZooKeeper,
  type TestZooKeeper,
} from '../../support/zookeeper.js';
import { zooKeeperEnv, zooKeeperFromEnv } from '../../fixtures/zookeeper-env.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';

const SESSION_MS = 3000;
const STRESSED = 4;
const ITERATIONS = 25;
const LIMIT = 2;

describeWithZooKeeper(
  'ZooKeeper semaphore across processes, with holders killed and paused',
  () => {
    const redis = useTestRedis();
    closeModulesAfterEach();
    let zookeeper: TestZooKeeper;
    let env: ReturnType<typeof zooKeeperEnv> & Record<string, string>;
    let workers: ChildApp[] = [];
    beforeAll(async () => {
      zookeeper = await startTestZooKeeper();
      env = {
        REDIS_URL: redis.url,
        SEMAPHORE_PREFIX: uniqueKeyPrefix(),
        ...zooKeeperEnv(zookeeper.connectString, SESSION_MS),
      };
      // Four that take permits in a loop, then one to SIGKILL and one to SIGSTOP while holding.
      workers = Array.from({ length: STRESSED + 2 }, () =>
        ChildApp.spawn('semaphore-worker', { env }),
      );
      await Promise.all(workers.map((worker) => worker.waitFor('ready')));
    });
    afterAll(async () => {
      await Promise.all(workers.map((worker) => worker.kill()));
      await zookeeper.dispose();
    });

    it(`never lets more than ${LIMIT} in, and aborts the paused holder's permit on resume`, async () => {
      // This process watches the semaphore's line, on the workers' ZooKeeper root.
      const observer = await startModule([
        RedisCoordinationModule.forRoot({
          url: redis.url,
          zookeeper: zooKeeperFromEnv(env),
          semaphores: { backend: 'zookeeper' },
        }),
      ]);
      const connection = observer.get(ZooKeeperConnection);
      const line = async () =>
        (await connection.session.getChildren(semaphoreParent(connection.root, 'shared'))) ?? [];

      const stressed = workers.slice(0, STRESSED);
      const [killed, paused] = workers.slice(STRESSED) as [ChildApp, ChildApp];
      // Both permits go to holders that then crash or freeze holding them; nobody else gets in
      // until the ensemble expires their sessions.
      const { token } = await stressPastCrashedHolders({
        stressed,
        killed,
        paused,
        limit: LIMIT,
        iterations: ITERATIONS,
        holderTtlMs: 1000,
        ttlMs: 1000,
      });

      // Its session has expired by now (its node is gone): on resume it must know.
      await waitUntil(
        async () => !(await line()).some((node) => node.includes(`-${String(token)}-`)),
      );
      await resumeLostHolder(paused);
    });
  },
);
