import assert from 'node:assert/strict';
import { afterAll, beforeAll, it } from '@jest/globals';
import { PermitLostError, RedisCoordinationModule } from '../../../lib/index.js';
import { semaphoreParent } from '../../../lib/semaphore/zookeeper-semaphore.nodes.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { ChildApp, type ChildMessage } from '../../support/child-process.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import {
  describeWithZooKeeper,
  startTestZooKeeper,
  type TestZooKeeper,
} from '../../support/zookeeper.js';
import { zooKeeperEnv } from '../../fixtures/zookeeper-env.js';
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

    /** The worker's `type` report, failing the test if it reports a failure first. */
    function reportOf(worker: ChildApp, type: string): Promise<ChildMessage> {
      return Promise.race([
        worker.waitFor(type),
        worker.waitFor('failed').then((m) => assert.fail(String(m.error))),
      ]);
    }

    it(`never lets more than ${LIMIT} in, and aborts the paused holder's permit on resume`, async () => {
      // This process watches the semaphore's line, on the workers' ZooKeeper root.
      const observer = await startModule([
        RedisCoordinationModule.forRoot({
          url: redis.url,
          zookeeper: {
            connectString: zookeeper.connectString,
            root: env.ZOOKEEPER_ROOT,
            sessionTimeoutMs: SESSION_MS,
          },
          semaphores: { backend: 'zookeeper' },
        }),
      ]);
      const connection = observer.get(ZooKeeperConnection);
      const line = async () =>
        (await connection.session.getChildren(semaphoreParent(connection.root, 'shared'))) ?? [];

      const stressed = workers.slice(0, STRESSED);
      const [killed, paused] = workers.slice(STRESSED) as [ChildApp, ChildApp];
      // Both permits go to holders that then crash or freeze holding them.
      killed.send({ type: 'holdPlain', limit: LIMIT, ttlMs: 1000 });
      assert.equal((await reportOf(killed, 'acquired')).inside, 1);
      paused.send({ type: 'hold', limit: LIMIT, ttlMs: 1000 });
      const { token, inside } = await reportOf(paused, 'acquired');
      assert.equal(inside, 2);
      await killed.kill();
      paused.signal('SIGSTOP');

      for (const worker of stressed) {
        worker.send({ type: 'stress', iterations: ITERATIONS, limit: LIMIT, ttlMs: 1000 });
      }
      const reports = await Promise.all(stressed.map((worker) => reportOf(worker, 'done')));
      const summary = JSON.stringify(reports);
      for (const report of reports) {
        assert.equal(report.violations, 0, summary);
        assert.ok(Number(report.maxInside) <= LIMIT, summary);
        assert.equal(report.refused, 0, `every write under a live permit: ${summary}`);
        assert.equal(report.aborted, 0, summary);
      }
      // The check saw the semaphore full, so it could have seen one holder too many.
      assert.ok(
        reports.some((report) => report.maxInside === LIMIT),
        summary,
      );

      // Its session has expired by now (its node is gone): on resume it must know.
      await waitUntil(
        async () => !(await line()).some((node) => node.includes(`-${String(token)}-`)),
      );
      paused.signal('SIGCONT');
      paused.send({ type: 'write' });
      const report = await reportOf(paused, 'wrote');
      assert.equal(report.aborted, true, 'the paused holder is told it lost its permit');
      assert.equal(report.reason, PermitLostError.name);
      assert.equal(report.accepted, false, 'the write of a lost permit must be refused');
    });
  },
);
