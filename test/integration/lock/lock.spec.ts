import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  currentLock,
  InvalidArgumentError,
  LockLostError,
  LockTimeoutError,
  RedisCoordinationModule,
  RedisLockService,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import type { TestingModule } from '@nestjs/testing';
import { closeModule, startModule } from '../../support/nest.js';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

describe('RedisLockService', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  const modules = new Map<RedisLockService, TestingModule>();
  const moduleOf = (locks: RedisLockService) => modules.get(locks)!;

  async function start(keyPrefix = uniqueKeyPrefix()) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    const ownerKey = (name: string) => connections.keys.key('lock', 'lock resource', name, 'owner');
    const queueKey = (name: string) => connections.keys.key('lock', 'lock resource', name, 'queue');
    const locks = moduleRef.get(RedisLockService);
    modules.set(locks, moduleRef);
    return { locks, keyPrefix, ownerKey, queueKey };
  }

  it('acquires, hands out increasing fencing tokens, and releases idempotently', async () => {
    const { locks, ownerKey } = await start();
    const first = await locks.acquire('orders:42', { ttlMs: 5000 });
    assert.equal(await locks.isLocked('orders:42'), true);
    const pttl = await redis.client.pttl(ownerKey('orders:42'));
    assert.ok(pttl > 0 && pttl <= 5000, `lease set atomically with the key (PTTL ${pttl})`);
    assert.equal(await locks.tryAcquire('orders:42'), null);
    await first.release();
    await first.release();
    assert.equal(await locks.isLocked('orders:42'), false);
    const second = await locks.acquire('orders:42');
    assert.ok(second.fencingToken > first.fencingToken);
    assert.ok(Number.isSafeInteger(second.fencingToken));
    await second.release();
  });

  it('never releases or extends a lock that passed to another holder', async () => {
    const { locks } = await start();
    const stale = await locks.acquire('k', { ttlMs: 30 });
    const fresh = await locks.acquire('k', { ttlMs: 5000, waitMs: 2000 });
    await assert.rejects(stale.extend(1000), LockLostError);
    assert.equal(stale.signal.aborted, true);
    assert.ok(stale.signal.reason instanceof LockLostError);
    await stale.release(); // its lease ran out: releasing must not free the new holder
    assert.equal(await locks.isLocked('k'), true);
    assert.equal(await locks.tryAcquire('k'), null);
    await fresh.extend(10_000);
    await fresh.release();
  });

  it('wakes a waiter on release, long before the lease would end', async () => {
    const { locks, ownerKey } = await start();
    const holder = await locks.acquire('job', { ttlMs: 20_000 });
    // waitMs < the holder's lease: only the release can let this waiter in.
    const waiting = locks.acquire('job', { ttlMs: 5000, waitMs: 15_000 });
    await sleep(50);
    await holder.release();
    const next = await waiting;
    assert.ok(next.fencingToken > holder.fencingToken);
    // Handed over with a short lease, then extended to the waiter's own ttlMs.
    while ((await redis.client.pttl(ownerKey('job'))) <= 1000) await sleep(5);
    assert.equal(next.signal.aborted, false);
    await next.release();
  });

  it('has all waiters of the app share one subscriber connection', async () => {
    const { locks, keyPrefix } = await start();
    const held = await Promise.all(['x', 'y'].map((name) => locks.acquire(name)));
    const waiters = ['x', 'x', 'x', 'y', 'y'].map(async (name) => {
      const lock = await locks.acquire(name, { waitMs: 10_000 });
      await lock.release();
    });
    await sleep(100);
    const subscribers = String(await redis.client.client('LIST'))
      .split('\n')
      .filter((line) => line.includes(`name=${keyPrefix.replace(/[^\w:.-]/g, '_')}subscriber`));
    assert.equal(subscribers.length, 1, subscribers.join('\n'));
    assert.match(subscribers[0]!, /sub=2/);
    await Promise.all(held.map((lock) => lock.release()));
    await Promise.all(waiters);
  });

  it('times out with LockTimeoutError and leaves no waiter entry behind', async () => {
    const { locks, keyPrefix, queueKey } = await start();
    const holder = await locks.acquire('busy', { ttlMs: 5000 });
    const error = await locks.acquire('busy', { waitMs: 150 }).catch((e: unknown) => e);
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.equal(error.code, 'LOCK_TIMEOUT');
    assert.match(error.message, /"busy".*150 ms/);
    assert.equal(await redis.client.exists(queueKey('busy')), 0);
    await holder.release();
    assert.deepEqual(
      (await keysUnder(redis.client, keyPrefix)).filter((k) => !k.endsWith(':fence')),
      [],
    );
  });

  it('releases at the end of an `await using` block', async () => {
    const { locks } = await start();
    {
      await using held = await locks.acquire('scoped');
      assert.equal(held.outermost, true);
      assert.equal(await locks.isLocked('scoped'), true);
    }
    assert.equal(await locks.isLocked('scoped'), false);
  });

  it('keeps the lock alive with a watchdog while using() work runs, then frees it', async () => {
    const { locks, keyPrefix, ownerKey } = await start();
    const other = (await start(keyPrefix)).locks; // another app: no reentrancy
    const result = await locks.using(
      'long',
      async (signal, lock) => {
        await sleep(700); // more than twice the lease
        assert.equal(signal.aborted, false);
        assert.equal(await other.tryAcquire('long'), null);
        assert.ok((await redis.client.pttl(ownerKey('long'))) > 0);
        return lock.fencingToken;
      },
      { ttlMs: 300 },
    );
    assert.ok(result > 0);
    assert.equal(await locks.isLocked('long'), false);
  });

  it('aborts the signal with LockLostError at maxHoldMs', async () => {
    const { locks } = await start();
    const reason = await locks.using(
      'capped',
      (signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason))),
      // A lease long enough that a busy machine's pauses cannot lose it before the cap.
      { ttlMs: 1000, maxHoldMs: 1200 },
    );
    assert.ok(reason instanceof LockLostError);
    assert.match(reason.message, /maxHoldMs/);
  });

  it('reenters within a using() chain; only the outermost level frees the lock', async () => {
    const { locks } = await start();
    await locks.using('r', async (_signal, outer) => {
      assert.equal(currentLock(), outer);
      const inner = await locks.acquire('r', { waitMs: 0 });
      assert.equal(inner.outermost, false);
      assert.equal(inner.fencingToken, outer.fencingToken);
      await locks.using('r', async () => {
        assert.equal(currentLock()?.fencingToken, outer.fencingToken);
      });
      await inner.release();
      assert.equal(await locks.isLocked('r'), true);
      // Part held, part not: refused rather than waiting on itself.
      await assert.rejects(
        locks.acquire(['r', 's'], { waitMs: 0 }),
        (e) => e instanceof InvalidArgumentError && /already holds r/.test(e.message),
      );
    });
    assert.equal(currentLock(), undefined);
    assert.equal(await locks.isLocked('r'), false);
  });

  it('locks several resources all or nothing', async () => {
    const { locks } = await start();
    const b = await locks.acquire('stock:b');
    assert.equal(await locks.tryAcquire(['stock:a', 'stock:b']), null);
    assert.equal(await locks.isLocked('stock:a'), false, 'nothing taken when one is busy');
    await b.release();
    const both = await locks.acquire(['stock:b', 'stock:a', 'stock:b']);
    assert.deepEqual(both.resources, ['stock:a', 'stock:b']);
    assert.deepEqual([...both.fencingTokens.keys()], ['stock:a', 'stock:b']);
    assert.equal(await locks.isLocked('stock:a'), true);
    await both.release();
    assert.equal(await locks.isLocked(['stock:a', 'stock:b']), false);
  });

  it('does not let a releaser barge in ahead of queued waiters', async () => {
    const { locks, queueKey } = await start();
    const holder = await locks.acquire('hot');
    const waiter = locks.acquire('hot', { waitMs: 5000 });
    while ((await redis.client.zcard(queueKey('hot'))) === 0) await sleep(5);
    await holder.release();
    assert.equal(await locks.tryAcquire('hot'), null, 'the releaser must queue behind the waiter');
    await (await waiter).release();
  });

  it('frees held locks and aborts their signals when the app shuts down', async () => {
    const { locks, keyPrefix } = await start();
    const other = (await start(keyPrefix)).locks;
    const [first, middle, last] = await Promise.all(
      ['a', 'b', 'c'].map((name) => locks.acquire(`shutdown:${name}`, { ttlMs: 60_000 })),
    );
    await middle!.release();
    const signals = [first!.signal, last!.signal];
    await closeModule(moduleOf(locks));
    for (const signal of signals) {
      assert.ok(signal.reason instanceof LockLostError);
      assert.match(signal.reason.message, /shutting down/);
    }
    assert.equal(middle!.lost, false, 'a lock released before shutdown is not lost');
    for (const name of ['a', 'b', 'c']) {
      assert.equal(
        await other.isLocked(`shutdown:${name}`),
        false,
        'peers need not wait out the TTL',
      );
    }
  });

  it('serves waiters first-come first-served with fair: true', async () => {
    const { locks, queueKey } = await start();
    const holder = await locks.acquire('fifo', { fair: true });
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      waiters.push(locks.using('fifo', () => void order.push(i), { fair: true, waitMs: 10_000 }));
      // Wait until this waiter is queued, so arrival order is known.
      while ((await redis.client.zcard(queueKey('fifo'))) < i + 1) await sleep(5);
    }
    await holder.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2, 3]);
  });
});
