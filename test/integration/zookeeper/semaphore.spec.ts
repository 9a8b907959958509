import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  InvalidArgumentError,
  InvalidOptionsError,
  PermitLostError,
  RedisCoordinationModule,
  SemaphoreBusyError,
  SemaphoreLimitMismatchError,
  SemaphoreService,
  SemaphoreTimeoutError,
  WithSemaphore,
  currentPermit,
  type Permit,
} from '../../../lib/index.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { nodeName } from '../../../lib/zookeeper/zookeeper.paths.js';
import { startModule } from '../../support/nest.js';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis, useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

@Injectable()
class Exporter {
  @WithSemaphore('export', { limit: 1, onBusy: 'throw' })
  async run(): Promise<string | undefined> {
    return currentPermit()?.semaphore;
  }
}

describeWithZooKeeper('SemaphoreService with backend zookeeper', () => {
  const redis = useTestRedis();
  const zookeeper = useTestZooKeeper();
  closeModulesAfterEach();

  /**
   * Two app instances sharing a ZooKeeper root of their own (semaphores on ZooKeeper by the
   * module default), and a look at a semaphore's nodes.
   */
  async function start(options: { sessionTimeoutMs?: number } = {}) {
    const root = `/t${randomBytes(4).toString('hex')}`;
    const keyPrefix = uniqueKeyPrefix();
    const modules = await Promise.all(
      [0, 1].map(() =>
        startModule(
          [
            RedisCoordinationModule.forRoot({
              url: redis.url,
              keyPrefix,
              zookeeper: { connectString: zookeeper.connectString, root, ...options },
              semaphores: { backend: 'zookeeper' },
            }),
          ],
          { providers: [Exporter] },
        ),
      ),
    );
    const [a, b] = modules.map((m) => m.get(SemaphoreService)) as [
      SemaphoreService,
      SemaphoreService,
    ];
    const connections = modules.map((m) => m.get(ZooKeeperConnection));
    const connection = connections[0]!;
    /** The nodes under the semaphore's parent: holders and waiters. */
    const nodesOf = async (name: string) =>
      (await connection.session.getChildren(`${root}/semaphores/${nodeName(name)}`)) ?? [];
    return { a, b, modules, connections, nodesOf, keyPrefix };
  }

  it('never lets more than `limit` in across two instances, and fills every permit', async () => {
    const { a, b } = await start();
    const limit = 3;
    let inside = 0;
    let most = 0;
    const workers = Array.from({ length: 10 }, async (_, i) => {
      for (let round = 0; round < 4; round++) {
        const permit = await (i % 2 ? a : b).acquire('pool', { limit, waitMs: 60_000 });
        inside++;
        most = Math.max(most, inside);
        await sleep(15);
        inside--;
        await permit.release();
      }
    });
    await Promise.all(workers);
    assert.equal(most, limit);
  });

  it('serves waiters first come, first served, each let in as soon as one permit frees', async () => {
    const { a, b, nodesOf } = await start();
    const options = { limit: 2, waitMs: 30_000 };
    const holders = [await a.acquire('fifo', options), await b.acquire('fifo', options)];
    const order: string[] = [];
    const permits = new Map<string, Permit>();
    let failure: unknown;
    for (const [i, name] of ['w1', 'w2', 'w3', 'w4'].entries()) {
      void (i % 2 ? a : b).acquire('fifo', options).then(
        (permit) => {
          order.push(name);
          permits.set(name, permit);
        },
        (error: unknown) => (failure ??= error),
      );
      // Each waiter's node is in line before the next one asks.
      await waitUntil(async () => (await nodesOf('fifo')).length === 3 + i);
    }
    /** Frees `permit`, then waits until one more waiter got in (or one failed). */
    const handOver = async (permit: Permit, admitted: number) => {
      await permit.release();
      await waitUntil(() => order.length === admitted || failure !== undefined);
      if (failure) throw failure;
    };
    // The first holder leaves: w1 (which also waits on the second holder) must get in alone.
    await handOver(holders[0]!, 1);
    await handOver(holders[1]!, 2);
    await handOver(permits.get('w1')!, 3);
    await handOver(permits.get('w2')!, 4);
    assert.deepEqual(order, ['w1', 'w2', 'w3', 'w4']);
    await Promise.all([...permits.values()].map((permit) => permit.release()));
    assert.deepEqual(await nodesOf('fifo'), []);
  });

  it('gives up its place in line at waitMs, and tryAcquire answers null when none is free', async () => {
    const { a, b, nodesOf } = await start();
    const held = await a.acquire('busy', { limit: 1 });
    const error = await b.acquire('busy', { limit: 1, waitMs: 200 }).catch((e: unknown) => e);
    assert.ok(error instanceof SemaphoreTimeoutError, String(error));
    assert.deepEqual([error.semaphore, error.limit, error.waitMs], ['busy', 1, 200]);
    assert.equal((await nodesOf('busy')).length, 1, 'the waiter that timed out left its node');
    assert.equal(await b.tryAcquire('busy', { limit: 1 }), null);
    assert.equal((await nodesOf('busy')).length, 1, 'tryAcquire left its node');
    await held.release();
    const free = await b.tryAcquire('busy', { limit: 1 });
    assert.ok(free);
    await free.release();
  });

  it('counts available permits', async () => {
    const { a, b } = await start();
    assert.equal(await a.available('count', { limit: 2 }), 2);
    const first = await a.acquire('count', { limit: 2 });
    assert.equal(await b.available('count', { limit: 2 }), 1);
    const second = await b.acquire('count', { limit: 2 });
    const waiting = a.acquire('count', { limit: 2, waitMs: 30_000 });
    assert.equal(await b.available('count', { limit: 2 }), 0, 'a waiter takes no permit');
    await first.release();
    const third = await waiting;
    assert.equal(await b.available('count', { limit: 2 }), 0);
    await Promise.all([second.release(), third.release()]);
    assert.equal(await a.available('count', { limit: 2 }), 2);
  });

  it('refuses another limit while the semaphore is in use, leaving no node, and takes it once idle', async () => {
    const { a, b, nodesOf } = await start();
    const held = await a.acquire('limits', { limit: 2 });
    const refused = await b.acquire('limits', { limit: 3 }).catch((e: unknown) => e);
    assert.ok(refused instanceof SemaphoreLimitMismatchError, String(refused));
    assert.deepEqual([refused.limit, refused.limitInUse], [3, 2]);
    assert.equal((await nodesOf('limits')).length, 1, 'the refused call left its node');
    await assert.rejects(b.available('limits', { limit: 3 }), SemaphoreLimitMismatchError);
    await held.release();
    const again = await b.acquire('limits', { limit: 3, waitMs: 0 });
    await again.release();
  });

  it('runs using() and @WithSemaphore on ZooKeeper from the module default, nothing in Redis', async () => {
    const { a, modules, nodesOf, keyPrefix } = await start();
    const exporter = modules[1]!.get(Exporter);
    const seen = await a.using('export', { limit: 1 }, async (signal, permit) => {
      assert.equal(signal.aborted, false);
      assert.equal(currentPermit(), permit);
      assert.equal((await nodesOf('export')).length, 1);
      await assert.rejects(exporter.run(), SemaphoreBusyError);
      return permit.limit;
    });
    assert.equal(seen, 1);
    assert.deepEqual(await nodesOf('export'), [], 'using() released its permit');
    assert.equal(await exporter.run(), 'export');
    assert.deepEqual(await keysUnder(redis.client, keyPrefix), [], 'no semaphore key in Redis');
    // A call can still choose Redis.
    const onRedis = await a.acquire('export', { limit: 1, backend: 'redis' });
    assert.equal(await exporter.run(), 'export', 'the ZooKeeper semaphore is free');
    await onRedis.release();
  });

  it('honours maxHoldMs in using(): the signal aborts and the permit goes to the next', async () => {
    const { a, b } = await start();
    const reason = await a.using(
      'capped',
      { limit: 1, maxHoldMs: 300 },
      (signal) =>
        new Promise<unknown>((resolve) =>
          signal.addEventListener('abort', () => resolve(signal.reason)),
        ),
    );
    assert.ok(reason instanceof PermitLostError, String(reason));
    const next = await b.acquire('capped', { limit: 1, waitMs: 10_000 });
    await next.release();
  });

  it('checks the backend option, and refuses semaphores.backend zookeeper without the zookeeper option', async () => {
    const { a } = await start();
    await assert.rejects(
      a.acquire('x', { limit: 1, backend: 'zk' as 'zookeeper' }),
      (error: unknown) => error instanceof InvalidArgumentError && /backend/.test(error.message),
    );
    const plain = await startModule([RedisCoordinationModule.forRoot({ url: redis.url })]);
    await assert.rejects(
      plain.get(SemaphoreService).acquire('x', { limit: 1, backend: 'zookeeper' }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /module option zookeeper/.test(error.message),
    );
    const refused = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, semaphores: { backend: 'zookeeper' } }),
    ]).catch((e: unknown) => e);
    assert.ok(refused instanceof InvalidOptionsError, String(refused));
    assert.match(
      refused.message,
      /semaphores.backend 'zookeeper' needs the module option zookeeper/,
    );
    const unknown = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        semaphores: { backend: 'etcd', limit: 2 } as never,
      }),
    ]).catch((e: unknown) => e);
    assert.ok(unknown instanceof InvalidOptionsError, String(unknown));
    assert.match(unknown.message, /semaphores\.limit/);
    assert.match(unknown.message, /semaphores.backend must be 'redis' or 'zookeeper'/);
  });

  it('counts a permit lost the moment the connection is suspended, and frees it once back', async () => {
    const { a, b, connections } = await start({ sessionTimeoutMs: 4000 });
    const permit = await a.acquire('fragile', { limit: 1 });
    const events: string[] = [];
    connections[0]!.onSessionEvent((event) => events.push(event));
    const aborted = new Promise<unknown>((resolve) =>
      permit.signal.addEventListener('abort', () => resolve(permit.signal.reason)),
    );
    await zookeeper.server.stop();
    try {
      const reason = await aborted;
      assert.ok(reason instanceof PermitLostError, String(reason));
      assert.deepEqual(events, ['suspended'], 'lost on suspension, not only once the session ends');
      assert.equal(permit.lost, true);
      await assert.rejects(permit.extend(), PermitLostError);
    } finally {
      await zookeeper.server.restart();
    }
    await waitUntil(() => connections.every((connection) => connection.connected));
    const next = await b.acquire('fragile', { limit: 1, waitMs: 30_000 });
    await next.release();
    await permit.release();
  });
});
