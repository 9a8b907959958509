import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { it } from '@jest/globals';
import { RedisCoordinationModule, ServiceRegistry } from '../../../lib/index.js';
import { useFollow } from '../../support/follow.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import {
  closeModulesAfterEach,
  useChildApps,
  useTestRedis,
  useTestZooKeeper,
} from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';

const SESSION_TIMEOUT_MS = 3000;

describeWithZooKeeper('instances registered on ZooKeeper that crash or stall', () => {
  const redis = useTestRedis();
  const zookeeper = useTestZooKeeper();
  const spawnChild = useChildApps();
  closeModulesAfterEach();
  const follow = useFollow();

  /** Two registered instances (child processes) and two apps observing service billing. */
  async function twoInstancesObservedTwice() {
    const root = `/t${randomBytes(6).toString('hex')}`;
    const env = {
      REDIS_URL: redis.url,
      PREFIX: uniqueKeyPrefix(),
      TTL_MS: '3000',
      ZOOKEEPER_CONNECT: zookeeper.connectString,
      ZOOKEEPER_ROOT: root,
      ZOOKEEPER_SESSION_MS: String(SESSION_TIMEOUT_MS),
    };
    const children = [
      spawnChild('registry-instance', { env }),
      spawnChild('registry-instance', { env }),
    ];
    const ids = await Promise.all(
      children.map(async (child) => (await child.waitFor('registered')).id as string),
    );
    const views = await Promise.all(
      [0, 1].map(async () => {
        const moduleRef = await startModule([
          RedisCoordinationModule.forRoot({
            url: redis.url,
            zookeeper: { connectString: zookeeper.connectString, root },
          }),
        ]);
        return follow(moduleRef.get(ServiceRegistry).observe('billing', { backend: 'zookeeper' }));
      }),
    );
    await Promise.all(views.map((until) => until('both listed', (list) => list.length === 2)));
    return { children, ids, views };
  }

  it('a SIGKILLed instance leaves every view once its session times out, though it never deregistered', async () => {
    const { children, ids, views } = await twoInstancesObservedTwice();
    children[0]!.signal('SIGKILL');
    const killedAt = performance.now();
    const seen = await Promise.all(
      views.map((until) =>
        until('the killed one gone', (list) => !list.some((i) => i.id === ids[0])),
      ),
    );
    const tookMs = performance.now() - killedAt;
    for (const list of seen) {
      assert.deepEqual(
        list.map((i) => i.id),
        [ids[1]],
      );
    }
    // For the record (a figure, not a budget: the machine may be busy): the session timeout.
    console.log(
      `a SIGKILLed instance left every view after ${Math.round(tookMs)} ms (sessionTimeoutMs ${SESSION_TIMEOUT_MS})`,
    );
  });

  it('a SIGSTOPped instance leaves every view when its session times out, and registers again once resumed', async () => {
    const { children, ids, views } = await twoInstancesObservedTwice();
    children[0]!.signal('SIGSTOP');
    await Promise.all(
      views.map((until) =>
        until('the stalled one gone', (list) => !list.some((i) => i.id === ids[0])),
      ),
    );
    children[0]!.signal('SIGCONT');
    await Promise.all(
      views.map((until) => until('registered again', (list) => list.some((i) => i.id === ids[0]))),
    );
  });
});
