import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, it } from '@jest/globals';
import { RedisCoordinationModule, RedisLockService } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { RedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis, useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { fencedWrite } from '../../fixtures/lock-fenced-store.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';

/**
 * The founding design's combined guarantee: locks on ZooKeeper stay exclusive while the Redis
 * master the app runs on is killed and Sentinel promotes its replica. The holders check the
 * overlap themselves, in a Redis outside the failover (the test's own), and write through a
 * store fenced on the lock's token.
 */
describeWithZooKeeper('ZooKeeper locks through a Redis Sentinel failover', () => {
  const store = useTestRedis();
  const zookeeper = useTestZooKeeper();
  closeModulesAfterEach();
  let master: RedisServer;
  let replica: RedisServer;
  let sentinel: RedisServer;
  beforeAll(async () => {
    master = await RedisServer.start();
    replica = await RedisServer.start({ args: ['--replicaof', master.host, String(master.port)] });
    sentinel = await RedisServer.start({
      sentinelOf: { name: 'main', host: master.host, port: master.port },
    });
    sentinel.cli('SENTINEL', 'SET', 'main', 'down-after-milliseconds', '1000');
    sentinel.cli('SENTINEL', 'SET', 'main', 'failover-timeout', '5000');
    await waitUntil(() => replica.cli('INFO', 'replication').includes('master_link_status:up'));
  });
  afterAll(async () => {
    await Promise.all([sentinel.dispose(), replica.dispose(), master.dispose()]);
  });

  it('never has two holders and refuses no fenced write while the master fails over', async () => {
    const root = `/t${randomBytes(4).toString('hex')}`;
    const apps = await Promise.all(
      [0, 1, 2].map(() =>
        startModule([
          RedisCoordinationModule.forRoot({
            sentinel: { sentinels: [{ host: sentinel.host, port: sentinel.port }], name: 'main' },
            zookeeper: { connectString: zookeeper.connectString, root },
            locks: { backend: 'zookeeper' },
          }),
        ]),
      ),
    );
    let failedOver = false;
    let acquisitionsAfter = 0;
    let overlaps = 0;
    let refused = 0;
    const loop = async (locks: RedisLockService) => {
      while (!failedOver || acquisitionsAfter < 30) {
        await locks.using(
          'ledger',
          async (_signal, lock) => {
            if ((await store.client.incr('holders')) !== 1) overlaps++;
            if (!(await fencedWrite(store.client, 'ledger', lock.fencingToken, 'x'))) refused++;
            await store.client.decr('holders');
          },
          { waitMs: 30_000 },
        );
        if (failedOver) acquisitionsAfter++;
      }
    };
    const loops = apps.map((app) => loop(app.get(RedisLockService)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await master.kill();
    await waitUntil(() =>
      sentinel.cli('SENTINEL', 'get-master-addr-by-name', 'main').includes(String(replica.port)),
    );
    failedOver = true;
    await Promise.all(loops);
    assert.equal(overlaps, 0, 'two holders at once');
    assert.equal(refused, 0, 'a fenced write was refused: a stale holder wrote');
    assert.ok(acquisitionsAfter >= 30);
  });
});
