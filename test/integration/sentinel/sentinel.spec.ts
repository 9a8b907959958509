import assert from 'node:assert/strict';
import { afterAll, afterEach, beforeAll, it } from '@jest/globals';
import {
  CounterService,
  QueueService,
  RedisCoordinationModule,
  RedisLockService,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { closeStartedModules, startModule } from '../../support/nest.js';
import { RedisServer, describeWithRedisServer } from '../../support/redis.js';

describeWithRedisServer('Redis Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisServer;
  beforeAll(async () => {
    master = await RedisServer.start();
    sentinel = await RedisServer.start({
      sentinelOf: { name: 'main', host: master.host, port: master.port },
    });
  });
  afterAll(async () => {
    await sentinel.dispose();
    await master.dispose();
  });
  afterEach(closeStartedModules);

  it('finds the master through the sentinel and runs locks, counters, queues and subscriptions', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        sentinel: { sentinels: [{ host: sentinel.host, port: sentinel.port }], name: 'main' },
      }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    assert.equal(
      connections.target,
      `sentinel master "main" via ${sentinel.host}:${sentinel.port}`,
    );
    // The command connection reached the master itself, not the sentinel.
    assert.match(await connections.command.info('server'), new RegExp(`tcp_port:${master.port}`));

    const lock = await moduleRef
      .get(RedisLockService)
      .acquire('sentinel-resource', { ttlMs: 5000 });
    assert.equal(await moduleRef.get(RedisLockService).isLocked('sentinel-resource'), true);
    await lock.release();
    assert.equal(await moduleRef.get(CounterService).increment('sentinel-counter', 3), 3);
    await moduleRef.get(QueueService).add('sentinel-queue', { n: 1 });
    assert.equal((await moduleRef.get(QueueService).counts('sentinel-queue')).waiting, 1);

    const hub = await connections.subscriptions();
    let deliver!: (message: string) => void;
    const received = new Promise<string>((resolve) => (deliver = resolve));
    await hub.subscribe('sentinel-news', (message) => deliver(message));
    await connections.command.publish('sentinel-news', 'via sentinel');
    assert.equal(await received, 'via sentinel');
  });
});
