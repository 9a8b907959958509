import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zk from 'node-zookeeper-client';
import { afterAll, beforeAll, it } from '@jest/globals';
import {
  InvalidArgumentError,
  InvalidOptionsError,
  ReplicaAckError,
  LockLostError,
  LockTimeoutError,
  LockUpgradeError,
  RedisCoordinationModule,
  RedisLockService,
  ZooKeeperConnectionError,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import {
  describeWithZooKeeper,
  startTestZooKeeper,
  type TestZooKeeper,
} from '../../support/zookeeper.js';

describeWithZooKeeper('RedisLockService with backend zookeeper', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();
  let zookeeper: TestZooKeeper;
  beforeAll(async () => (zookeeper = await startTestZooKeeper()));
  afterAll(() => zookeeper.dispose());

  /** Two app instances sharing a ZooKeeper root of their own. */
  async function start(options: { backend?: 'redis' | 'zookeeper' } = {}) {
    const root = `/t${randomBytes(4).toString('hex')}`;
    const instances = await Promise.all(
      [0, 1].map(() =>
        startModule([
          RedisCoordinationModule.forRoot({
            url: redis.url,
            zookeeper: { connectString: zookeeper.connectString, root },
            locks: { backend: options.backend ?? 'zookeeper' },
          }),
        ]),
      ),
    );
    return instances.map((m) => m.get(RedisLockService)) as [RedisLockService, RedisLockService];
  }

  it('excludes, passes the lock to the waiter on release, and fences with increasing czxids', async () => {
    const [a, b] = await start();
    const first = await a.acquire('x');
    assert.equal(await b.tryAcquire('x'), null);
    assert.equal(await b.isLocked('x'), true);
    const waiting = b.acquire('x', { waitMs: 10_000 });
    await first.release();
    const second = await waiting;
    assert.ok(second.fencingToken > first.fencingToken);
    await second.release();
    const third = await a.tryAcquire('x');
    assert.ok(third && third.fencingToken > second.fencingToken);
    await third.release();
  });

  it('serves waiters in arrival order', async () => {
    const [a, b] = await start();
    const held = await a.acquire('fifo');
    const order: string[] = [];
    const waiters = ['b1', 'a1', 'b2'].map(async (name, i) => {
      await new Promise((resolve) => setTimeout(resolve, 50 * i));
      const lock = await (name.startsWith('a') ? a : b).acquire('fifo', { waitMs: 20_000 });
      order.push(name);
      await lock.release();
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await held.release();
    await Promise.all(waiters);
    assert.deepEqual(order, ['b1', 'a1', 'b2']);
  });

  it('shares reads, keeps writes out, refuses an upgrade, and times out with LockTimeoutError', async () => {
    const [a, b] = await start();
    const r1 = await a.acquire('y', { mode: 'read' });
    const r2 = await b.acquire('y', { mode: 'read', waitMs: 0 });
    await assert.rejects(a.acquire('y', { waitMs: 200 }), LockTimeoutError);
    await a.using(
      'y',
      async () => {
        await assert.rejects(a.acquire('y'), LockUpgradeError);
      },
      { mode: 'read' },
    );
    const writer = b.acquire('y', { waitMs: 10_000 });
    // A reader arriving after a waiting writer queues behind it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await a.tryAcquire('y', { mode: 'read' }), null);
    await r1.release();
    await r2.release();
    const w = await writer;
    await w.release();
  });

  it('takes several resources all or nothing, without deadlocking against the reverse order', async () => {
    const [a, b] = await start();
    const runs = Array.from({ length: 10 }, async (_, i) => {
      const lock = await (i % 2 ? a : b).acquire(i % 2 ? ['p', 'q'] : ['q', 'p'], {
        waitMs: 20_000,
      });
      await lock.release();
    });
    await Promise.all(runs);
  });

  it('honours maxHoldMs in using(): the signal aborts and others get the lock', async () => {
    const [a, b] = await start();
    const reason = await a.using(
      'capped',
      (signal) =>
        new Promise<unknown>((resolve) =>
          signal.addEventListener('abort', () => resolve(signal.reason)),
        ),
      { maxHoldMs: 300 },
    );
    assert.ok(reason instanceof LockLostError, String(reason));
    const next = await b.acquire('capped', { waitMs: 5000 });
    await next.release();
  });

  it('uses Redis per call when the module default is ZooKeeper, and the reverse', async () => {
    const [a] = await start({ backend: 'redis' });
    const onRedis = await a.acquire('both');
    const onZooKeeper = await a.acquire('both', { backend: 'zookeeper', waitMs: 0 });
    await onRedis.release();
    assert.equal(await a.isLocked('both'), false, 'the module default (Redis) is free');
    assert.equal(await a.isLocked('both', { backend: 'zookeeper' }), true);
    await onZooKeeper.release();
    assert.equal(await a.isLocked('both', { backend: 'zookeeper' }), false);
  });

  it('applies replicaAcks to Redis locks only, and refuses it on a ZooKeeper lock', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url, // a Redis without replicas: a Redis lock cannot be confirmed
        zookeeper: { connectString: zookeeper.connectString, root: '/replica-acks' },
        locks: { backend: 'zookeeper' },
        replicaAcks: { replicas: 1, timeoutMs: 100 },
      }),
    ]);
    const locks = moduleRef.get(RedisLockService);
    const onZooKeeper = await locks.acquire('acked');
    await onZooKeeper.release();
    await assert.rejects(locks.acquire('acked', { backend: 'redis' }), ReplicaAckError);
    await assert.rejects(
      locks.acquire('acked', { replicaAcks: { replicas: 1, timeoutMs: 100 } }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /applies to locks on Redis/.test(error.message),
    );
  });

  it('refuses backend zookeeper without the zookeeper option, naming what is missing', async () => {
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: redis.url })]);
    const locks = moduleRef.get(RedisLockService);
    await assert.rejects(
      locks.acquire('x', { backend: 'zookeeper' }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /module option zookeeper/.test(error.message),
    );
    const refused = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, locks: { backend: 'zookeeper' } }),
    ]).catch((e: unknown) => e);
    assert.ok(refused instanceof InvalidOptionsError, String(refused));
    assert.match(refused.message, /locks.backend 'zookeeper' needs the module option zookeeper/);
  });

  it('with digest credentials, creates nodes only that user may touch', async () => {
    const root = `/t${randomBytes(4).toString('hex')}`;
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        zookeeper: { connectString: zookeeper.connectString, root, digest: 'app:s3cret' },
        locks: { backend: 'zookeeper' },
      }),
    ]);
    const lock = await moduleRef.get(RedisLockService).acquire('guarded');
    const outsider = zk.createClient(zookeeper.connectString);
    const connected = new Promise<void>((resolve) => outsider.once('connected', () => resolve()));
    outsider.connect();
    await connected;
    try {
      const refused = await new Promise<unknown>((resolve) =>
        outsider.getChildren(`${root}/locks`, (error) => resolve(error)),
      );
      assert.match(String(refused), /NO_AUTH/, 'a client without the credentials read the nodes');
    } finally {
      outsider.close();
    }
    await lock.release();
  });

  it('fails app start with ZooKeeperConnectionError naming the ensemble when it is unreachable', async () => {
    const error = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        zookeeper: { connectString: '127.0.0.1:1', connectTimeoutMs: 1000, digest: 'app:s3cret' },
      }),
    ]).catch((e: unknown) => e);
    if (!(error instanceof ZooKeeperConnectionError)) assert.fail(String(error));
    assert.match(error.message, /127\.0\.0\.1:1/);
    assert.doesNotMatch(JSON.stringify(error) + String(error.cause) + error.message, /s3cret/);
  });

  it('refuses bad zookeeper options with every problem listed', async () => {
    const error = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        zookeeper: {
          connectString: 'no-port',
          root: 'coord',
          sessionTimeoutMs: 10,
          digest: 's3cret',
        },
        locks: { backend: 'zookeeper' },
      }),
    ]).catch((e: unknown) => e);
    assert.ok(error instanceof InvalidOptionsError, String(error));
    for (const part of ['connectString', 'root', 'sessionTimeoutMs', 'digest']) {
      assert.match(error.message, new RegExp(part));
    }
    assert.doesNotMatch(error.message, /s3cret/);
  });
});
