import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidArgumentError,
  LockLostError,
  LockUpgradeError,
  RedisCoordinationModule,
  RedisLockService,
  type Lock,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

describe('RedisLockService read-write locks', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  /** Two app instances on one key prefix, as two processes behind a load balancer would be. */
  async function start() {
    const keyPrefix = uniqueKeyPrefix();
    const [a, b] = await Promise.all(
      [0, 1].map(() =>
        startModule([RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix })]),
      ),
    );
    return [a!.get(RedisLockService), b!.get(RedisLockService), keyPrefix] as const;
  }

  /** Tracks when a pending acquire settles, so a test can check that it is still waiting. */
  function track(acquiring: Promise<Lock>) {
    const state = { lock: undefined as Lock | undefined };
    const done = acquiring.then((lock) => (state.lock = lock));
    return { state, done };
  }

  it('shares a read lock between readers and keeps writers out until the last reader leaves', async () => {
    const [a, b] = await start();
    const first = await a.acquire('doc', { mode: 'read' });
    const second = await b.acquire('doc', { mode: 'read', waitMs: 0 });
    assert.equal(first.mode, 'read');
    assert.equal(await a.isLocked('doc'), true);
    assert.equal(await b.tryAcquire('doc'), null, 'a writer got in while readers held the lock');
    await first.release();
    assert.equal(await b.tryAcquire('doc'), null, 'a writer got in while a reader held the lock');
    await second.release();
    assert.equal(await a.isLocked('doc'), false);
    const writer = await b.tryAcquire('doc');
    assert.ok(writer, 'free once every reader left');
    assert.equal(writer.mode, 'write');
    assert.equal(
      await a.tryAcquire('doc', { mode: 'read' }),
      null,
      'a reader got in under a writer',
    );
    await writer.release();
  });

  it('wakes every waiting reader together when the writer releases', async () => {
    const [a, b] = await start();
    const writer = await a.acquire('doc');
    const readers = [0, 1, 2].map(() => track(b.acquire('doc', { mode: 'read', waitMs: 30_000 })));
    await sleep(50);
    assert.ok(readers.every((r) => !r.state.lock));
    await writer.release();
    // They hold at once: none releases before all three have it.
    const held = await Promise.all(readers.map((r) => r.done));
    for (const lock of held) assert.ok(lock.fencingToken > writer.fencingToken);
    await Promise.all(held.map((lock) => lock.release()));
  });

  it('lets a waiting writer in before readers that arrive after it (no writer starvation)', async () => {
    const [a, b, keyPrefix] = await start();
    const reader = await a.acquire('doc', { mode: 'read' });
    const writer = track(b.acquire('doc', { waitMs: 30_000 }));
    await waitUntil(async () => (await redis.client.keys(`${keyPrefix}*queue`)).length > 0);
    assert.equal(
      await a.tryAcquire('doc', { mode: 'read' }),
      null,
      'a new reader went ahead of the waiting writer',
    );
    const lateReader = track(a.acquire('doc', { mode: 'read', waitMs: 30_000 }));
    await reader.release();
    const written = await writer.done;
    assert.ok(written.fencingToken > reader.fencingToken);
    assert.equal(lateReader.state.lock, undefined, 'the late reader overlapped the writer');
    await written.release();
    const read = await lateReader.done;
    assert.ok(read.fencingToken > written.fencingToken);
    await read.release();
  });

  it('gives each reader its own lease: one that stops renewing frees only its share', async () => {
    const [a, b] = await start();
    const expiring = await a.acquire('doc', { mode: 'read', ttlMs: 600 });
    await b.using(
      'doc',
      async (signal) => {
        await sleep(900); // past the first reader's lease, renewed for this one
        assert.equal(signal.aborted, false);
        assert.equal(await a.tryAcquire('doc'), null, 'a writer got in under a live reader');
      },
      { mode: 'read', ttlMs: 600 },
    );
    await assert.rejects(expiring.extend(), LockLostError);
    assert.equal(expiring.signal.aborted, true);
    const writer = await a.tryAcquire('doc');
    assert.ok(writer);
    await writer.release();
  });

  it('refuses to upgrade a read hold within a call chain, and reenters a read inside a write', async () => {
    const [locks] = await start();
    await locks.using(
      'doc',
      async () => {
        await assert.rejects(locks.acquire('doc'), LockUpgradeError);
        await assert.rejects(
          locks.using('doc', () => undefined),
          /cannot be upgraded/,
        );
        const again = await locks.acquire('doc', { mode: 'read' });
        assert.equal(again.outermost, false);
      },
      { mode: 'read' },
    );
    await locks.using('doc', async (_signal, outer) => {
      const inner = await locks.acquire('doc', { mode: 'read', waitMs: 0 });
      assert.equal(inner.outermost, false);
      assert.equal(inner.fencingToken, outer.fencingToken);
    });
    assert.equal(await locks.isLocked('doc'), false);
  });

  it('takes several resources for reading all or nothing', async () => {
    const [a, b] = await start();
    const writer = await a.acquire('b');
    assert.equal(await b.tryAcquire(['a', 'b'], { mode: 'read' }), null);
    assert.equal(await b.isLocked('a'), false, 'a resource was kept from a failed acquire');
    const waiting = track(b.acquire(['a', 'b'], { mode: 'read', waitMs: 30_000 }));
    await writer.release();
    const both = await waiting.done;
    assert.deepEqual([...both.fencingTokens.keys()], ['a', 'b']);
    assert.equal(await a.tryAcquire('a'), null);
    await both.release();
    assert.equal(await a.isLocked(['a', 'b']), false);
  });

  it('refuses an unknown mode, naming it', async () => {
    const [locks] = await start();
    await assert.rejects(
      locks.acquire('doc', { mode: 'exclusive' as never }),
      (error: unknown) => error instanceof InvalidArgumentError && /mode/.test(error.message),
    );
  });
});
