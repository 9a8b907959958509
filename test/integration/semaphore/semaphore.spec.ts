import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  InvalidArgumentError,
  InvalidKeyError,
  PermitLostError,
  RedisCoordinationError,
  RedisCoordinationModule,
  SemaphoreBusyError,
  SemaphoreLimitMismatchError,
  SemaphoreService,
  SemaphoreTimeoutError,
  WithSemaphore,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { closeModule, startModule } from '../../support/nest.js';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

describe('SemaphoreService', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  const modules = new Map<SemaphoreService, TestingModule>();

  async function start(keyPrefix = uniqueKeyPrefix()) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    const key = (name: string, part: string) =>
      connections.keys.key('semaphore', 'semaphore name', name, part);
    const semaphores = moduleRef.get(SemaphoreService);
    modules.set(semaphores, moduleRef);
    return { semaphores, keyPrefix, key };
  }

  /** Resolves once `condition` holds (checked every 5 ms). */
  async function until(condition: () => Promise<boolean>): Promise<void> {
    while (!(await condition())) await sleep(5);
  }

  it('hands out at most `limit` permits, releases idempotently and leaves no key behind', async () => {
    const { semaphores, keyPrefix, key } = await start();
    const options = { limit: 2, ttlMs: 5000 };
    const a = await semaphores.acquire('pdf', options);
    const b = await semaphores.acquire('pdf', options);
    assert.equal(await semaphores.available('pdf', { limit: 2 }), 0);
    const pttl = await redis.client.pttl(key('pdf', 'holders'));
    assert.ok(pttl > 0 && pttl <= 5000, `the holders expire with the lease (PTTL ${pttl})`);
    const busy = await semaphores.acquire('pdf', { ...options, waitMs: 0 }).catch((e) => e);
    assert.ok(busy instanceof SemaphoreTimeoutError, String(busy));
    assert.ok(busy instanceof SemaphoreBusyError);
    assert.ok(busy instanceof RedisCoordinationError);
    assert.deepEqual(
      [busy.code, busy.semaphore, busy.limit, busy.waitMs, busy.statusCode],
      ['SEMAPHORE_TIMEOUT', 'pdf', 2, 0, 409],
    );
    assert.match(busy.message, /"pdf" had no free permit \(limit 2\) after waiting 0 ms/);
    await a.release();
    await a.release();
    assert.equal(await semaphores.available('pdf', { limit: 2 }), 1, 'released once, counted once');
    assert.equal(a.lost, false);
    await b.release();
    assert.equal(await semaphores.available('pdf', { limit: 2 }), 2);
    assert.deepEqual(await keysUnder(redis.client, keyPrefix), [], 'an idle semaphore has no keys');
  });

  it('releases at the end of an `await using` block', async () => {
    const { semaphores } = await start();
    {
      await using permit = await semaphores.acquire('scoped', { limit: 1 });
      assert.equal(permit.semaphore, 'scoped');
      assert.equal(permit.limit, 1);
      assert.equal(await semaphores.available('scoped', { limit: 1 }), 0);
    }
    assert.equal(await semaphores.available('scoped', { limit: 1 }), 1);
  });

  it('stops counting a permit whose lease ran out, tells its holder, and never frees the next holder’s', async () => {
    const { semaphores, key } = await start();
    const stale = await semaphores.acquire('lease', { limit: 1, ttlMs: 50 });
    const reason = await new Promise((resolve) =>
      stale.signal.addEventListener('abort', () => resolve(stale.signal.reason)),
    );
    assert.ok(reason instanceof PermitLostError, String(reason));
    assert.equal(reason.code, 'PERMIT_LOST');
    assert.match(reason.message, /"lease" was lost: its 50 ms lease ran out/);
    // The holder believed a bit less than Redis grants: the permit comes free shortly after.
    const fresh = await semaphores.acquire('lease', { limit: 1, waitMs: 5000 });
    await assert.rejects(stale.extend(1000), PermitLostError);
    await stale.release();
    assert.equal(await semaphores.available('lease', { limit: 1 }), 0, 'still the fresh holder’s');
    await fresh.extend(10_000);
    assert.equal(fresh.lost, false);
    await fresh.release();
    // Redis lost the permit (as after a restart): the next renewal tells the holder.
    const vanished = await semaphores.acquire('lease', { limit: 1 });
    await redis.client.del(key('lease', 'holders'));
    await assert.rejects(vanished.extend(1000), PermitLostError);
    assert.ok(vanished.signal.reason instanceof PermitLostError);
  });

  it('keeps counting a long lease after a shorter one is granted', async () => {
    const { semaphores, key } = await start();
    const long = await semaphores.acquire('mixed', { limit: 2, ttlMs: 5000 });
    const short = await semaphores.acquire('mixed', { limit: 2, ttlMs: 50 });
    // The keys live as long as the longest lease, not the latest: the long holder keeps counting.
    const pttl = await redis.client.pttl(key('mixed', 'holders'));
    assert.ok(pttl > 1000, `holders PTTL ${pttl}`);
    await new Promise((resolve) => short.signal.addEventListener('abort', resolve));
    const shortEnd = Number(await redis.client.zscore(key('mixed', 'holders'), short.held.token));
    await until(async () => Number((await redis.client.time())[0]) * 1000 > shortEnd + 1);
    await long.extend(3000);
    assert.ok((await redis.client.pttl(key('mixed', 'holders'))) > 3000, 'extend never shortens');
    assert.equal(await semaphores.available('mixed', { limit: 2 }), 1);
    // The short lease ended: its permit is free again, though the holders' key lives on.
    const next = await semaphores.acquire('mixed', { limit: 2, waitMs: 0 });
    await Promise.all([long.release(), next.release()]);
  });

  it('wakes the first waiter on its own instance’s inbox when a permit is released', async () => {
    const { semaphores, key } = await start();
    const listener = new Redis(redis.url, { lazyConnect: true, disconnectTimeout: 0 });
    await listener.connect();
    try {
      const wakeUps: string[] = [];
      listener.on('pmessage', (_pattern, channel: string) => wakeUps.push(channel));
      await listener.psubscribe(`${key('wake', 'released')}:*`);
      // The holder's lease outlasts the waiter's waitMs: only a release lets the waiter in.
      const holder = await semaphores.acquire('wake', { limit: 1, ttlMs: 20_000 });
      const waiter = semaphores.acquire('wake', { limit: 1, waitMs: 15_000 });
      await until(async () => (await redis.client.zcard(key('wake', 'queue'))) === 1);
      assert.deepEqual(wakeUps, []);
      await holder.release();
      await (await waiter).release();
      assert.equal(wakeUps.length, 1, 'one wake-up, to the waiter’s instance only');
      assert.match(wakeUps[0]!, /:released:i[\w-]+$/);
    } finally {
      listener.disconnect();
    }
  });

  it('keeps a free permit for a waiter ahead, and drops waiters that stopped retrying', async () => {
    const { semaphores, key } = await start();
    // A waiter of another instance, queued and alive for 300 ms more (as if it had just retried).
    const now = Date.now();
    await redis.client.zadd(key('fifo', 'queue'), now * 1000, 'iother:0');
    await redis.client.zadd(key('fifo', 'alive'), now + 300, 'iother:0');
    await assert.rejects(
      semaphores.acquire('fifo', { limit: 1, waitMs: 0 }),
      SemaphoreTimeoutError,
      'a newcomer must not take the permit the waiter ahead is owed',
    );
    // The waiter stops retrying: once its entry expires, the newcomer's turn comes.
    const permit = await semaphores.acquire('fifo', { limit: 1, waitMs: 10_000 });
    assert.equal(await redis.client.exists(key('fifo', 'queue')), 0);
    await permit.release();
  });

  it('serves waiters first come, first served', async () => {
    const { semaphores, key } = await start();
    const holders = await Promise.all([1, 2].map(() => semaphores.acquire('line', { limit: 2 })));
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    // Each waiter holds its permit until let go, so one permit frees at a time: which waiter
    // takes it is the line's order, not a race between two woken at once.
    const letGo: Array<() => void> = [];
    for (let i = 0; i < 4; i++) {
      waiters.push(
        semaphores.using('line', { limit: 2, waitMs: 10_000 }, async () => {
          order.push(i);
          await new Promise<void>((resolve) => (letGo[i] = resolve));
        }),
      );
      // Wait until this waiter is queued, so arrival order is known.
      await until(async () => (await redis.client.zcard(key('line', 'queue'))) === i + 1);
    }
    const frees = [() => holders[0]!.release(), () => holders[1]!.release()];
    frees.push(
      async () => letGo[0]!(),
      async () => letGo[1]!(),
    );
    for (const [step, free] of frees.entries()) {
      await free();
      await until(async () => order.length === step + 1);
    }
    letGo[2]!();
    letGo[3]!();
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2, 3]);
  });

  it('times out after waitMs and leaves no waiter entry behind', async () => {
    const { semaphores, key } = await start();
    const holder = await semaphores.acquire('slow', { limit: 1 });
    const error = await semaphores.acquire('slow', { limit: 1, waitMs: 150 }).catch((e) => e);
    assert.ok(error instanceof SemaphoreTimeoutError, String(error));
    assert.equal(error.waitMs, 150);
    assert.match(error.message, /"slow".*150 ms/);
    assert.equal(await redis.client.exists(key('slow', 'queue')), 0);
    assert.equal(await redis.client.exists(key('slow', 'alive')), 0);
    await holder.release();
  });

  it('refuses another limit while the semaphore is in use, and takes it once idle', async () => {
    const { semaphores, key } = await start();
    const short = await semaphores.acquire('tiers', { limit: 2, ttlMs: 60 });
    const long = await semaphores.acquire('tiers', { limit: 2, ttlMs: 5000 });
    const mismatch = await semaphores.acquire('tiers', { limit: 3, waitMs: 0 }).catch((e) => e);
    assert.ok(mismatch instanceof SemaphoreLimitMismatchError, String(mismatch));
    assert.deepEqual(
      [mismatch.code, mismatch.limit, mismatch.limitInUse],
      ['SEMAPHORE_LIMIT_MISMATCH', 3, 2],
    );
    assert.match(mismatch.message, /in use with limit 2, not 3/);
    await assert.rejects(semaphores.available('tiers', { limit: 3 }), SemaphoreLimitMismatchError);
    await long.release();
    // The short lease ends: its holder no longer counts, though the stored limit outlives it.
    await new Promise((resolve) => short.signal.addEventListener('abort', resolve));
    await until(
      async () => (await redis.client.zcount(key('tiers', 'holders'), Date.now(), '(+inf')) === 0,
    );
    assert.equal(await redis.client.zscore(key('tiers', 'holders'), '#2'), 'inf');
    const renewed = await semaphores.acquire('tiers', { limit: 3 });
    assert.equal(await redis.client.zscore(key('tiers', 'holders'), '#2'), null);
    assert.equal(await redis.client.zscore(key('tiers', 'holders'), '#3'), 'inf');
    assert.equal(await semaphores.available('tiers', { limit: 3 }), 2);
    await renewed.release();
  });

  it('renews the permit while using() work runs, then frees it, also when the work throws', async () => {
    const { semaphores, keyPrefix } = await start();
    const other = (await start(keyPrefix)).semaphores;
    // Leases long enough that a busy machine's pauses cannot outlast one between renewals.
    const result = await semaphores.using('long', { limit: 1, ttlMs: 600 }, async (signal) => {
      await sleep(2000); // more than three leases
      assert.equal(signal.aborted, false);
      assert.equal(await other.available('long', { limit: 1 }), 0);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.equal(await other.available('long', { limit: 1 }), 1);
    await assert.rejects(
      semaphores.using('long', { limit: 1 }, () => {
        throw new Error('render failed');
      }),
      /render failed/,
    );
    assert.equal(await other.available('long', { limit: 1 }), 1);
  });

  it('aborts the signal with PermitLostError at maxHoldMs', async () => {
    const { semaphores } = await start();
    const reason = await semaphores.using(
      'capped',
      // A lease long enough that a busy machine's pauses cannot lose it before the cap.
      { limit: 1, ttlMs: 1000, maxHoldMs: 1200 },
      (signal) =>
        new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason))),
    );
    assert.ok(reason instanceof PermitLostError);
    assert.match(reason.message, /maxHoldMs/);
  });

  it('frees held permits and aborts their signals when the app shuts down', async () => {
    const { semaphores, keyPrefix } = await start();
    const other = (await start(keyPrefix)).semaphores;
    const held = await Promise.all(
      [1, 2].map(() => semaphores.acquire('shutdown', { limit: 3, ttlMs: 60_000 })),
    );
    const released = await semaphores.acquire('shutdown', { limit: 3, ttlMs: 60_000 });
    await released.release();
    await closeModule(modules.get(semaphores)!);
    for (const permit of held) {
      assert.ok(permit.signal.reason instanceof PermitLostError);
      assert.match(permit.signal.reason.message, /shutting down/);
    }
    assert.equal(released.lost, false, 'a permit released before shutdown is not lost');
    assert.equal(await other.available('shutdown', { limit: 3 }), 3, 'no need to wait out leases');
  });

  it('checks names and options, naming the option', async () => {
    const { semaphores } = await start();
    const refused: [unknown, RegExp][] = [
      [{}, /limit undefined: required/],
      [{ limit: 0 }, /limit 0: expected an integer from 1 to 1000000/],
      [{ limit: 1.5 }, /limit 1.5/],
      [{ limit: 1_000_001 }, /limit 1000001/],
      [{ limit: '4' }, /limit "4"/],
      [{ limit: 1, ttlMs: 5 }, /ttlMs 5: expected an integer number of milliseconds from 10/],
      [{ limit: 1, waitMs: -1 }, /waitMs -1/],
      [{ limit: 1, maxHoldMs: 1 }, /maxHoldMs 1/],
      [{ limit: 1, ttl: 1000 }, /semaphore options.ttl .*did you mean "ttlMs"/],
      [{ limit: 1, onBusy: 'skip' }, /options.onBusy .*unknown option/],
      [null, /semaphore options null: expected an object/],
    ];
    for (const [options, message] of refused) {
      await assert.rejects(
        semaphores.acquire('checked', options as never),
        (e) => e instanceof InvalidArgumentError && message.test(e.message),
        `${JSON.stringify(options)} → ${String(message)}`,
      );
    }
    await assert.rejects(
      semaphores.using('checked', { limit: 1, fair: true } as never, () => undefined),
      InvalidArgumentError,
    );
    await assert.rejects(semaphores.available('checked', { limit: 1, ttlMs: 5 }), /ttlMs 5/);
    await assert.rejects(semaphores.available('checked', {} as never), /limit undefined/);
    await assert.rejects(semaphores.acquire('', { limit: 1 }), InvalidKeyError);
    await assert.rejects(semaphores.available(42 as never, { limit: 1 }), InvalidKeyError);
    assert.throws(
      () => WithSemaphore('checked', { limit: 1, onBusy: 'never' as never }),
      /onBusy "never": expected 'wait', 'throw' or 'skip'/,
    );
    assert.throws(() => WithSemaphore('checked', { limit: -1 }), /limit -1/);
    assert.throws(() => WithSemaphore('', { limit: 1 }), InvalidKeyError);
  });
});
