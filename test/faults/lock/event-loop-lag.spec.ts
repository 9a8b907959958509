import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import { LockLostError, RedisCoordinationModule, RedisLockService } from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { LockStore } from '../../../lib/lock/lock.store.js';
import { HANDOVER_LEASE_MS } from '../../../lib/lock/lock-waiter.js';
import { fencedWrite } from '../../fixtures/lock-fenced-store.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';
import { startModule } from '../../support/nest.js';
import { itOnPrivateRedis, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';

/** Keeps the event loop busy until `done()`, as a long synchronous computation or a GC pause does. */
function blockEventLoop(done: () => boolean): void {
  // Only a guard: jest's timeout cannot fire while the event loop is blocked.
  const giveUpAt = performance.now() + 60_000;
  while (!done()) {
    // Nothing else runs in this process meanwhile: no timer, no socket read.
    if (performance.now() > giveUpAt) throw new Error('what the block waited for never happened');
  }
}

function blockEventLoopFor(ms: number): void {
  const until = performance.now() + ms;
  blockEventLoop(() => performance.now() >= until);
}

// A waiter that hears late (its process blocked) that a releaser handed it the lock, and a holder
// blocked past its lease. Stalls are synchronous busy-waits in this process; other processes
// (a lock-worker child, Redis) carry on meanwhile.
describe('locks in a process whose event loop is blocked', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  async function setup() {
    const prefix = uniqueKeyPrefix();
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    const key = (name: string, part: string) =>
      connections.keys.key('lock', 'lock resource', name, part);
    return { prefix, connections, key, locks: moduleRef.get(RedisLockService) };
  }

  function startChild(prefix: string) {
    const child = spawnChild('lock-worker', { env: { REDIS_URL: redis.url, LOCK_PREFIX: prefix } });
    return child.waitFor('ready').then(() => child);
  }

  /** This app's waiter for `resource`, once it is queued and listens on its inbox. */
  async function waiterOn(
    { connections, key }: Awaited<ReturnType<typeof setup>>,
    resource: string,
  ) {
    const channel = key(resource, 'released');
    let inboxes: string[] = [];
    await waitUntil(async () => {
      inboxes = (await redis.client.pubsub('CHANNELS', `${channel}:*`)) as string[];
      return inboxes.length > 0;
    });
    assert.equal(inboxes.length, 1);
    const inbox = inboxes[0]!;
    const instance = inbox.slice(channel.length + 1);
    const alive = key(resource, 'alive');
    const token = (await redis.client.zrange(alive, '0', '-1')).find((t) =>
      t.includes(`:${instance}:`),
    )!;
    return {
      /**
       * Makes the first notice that reaches the waiter (the hand-over) call `block` in the same
       * turn of the event loop: the waiter's code only runs after it, as if the process had been
       * busy when the notice came.
       */
      async blockOnHandOver(block: () => void): Promise<void> {
        let blocked = false;
        const hub = await connections.subscriptions();
        await hub.subscribe(inbox, () => {
          if (blocked) return;
          blocked = true;
          block();
        });
      },
      /**
       * Resolves right after a retry of the waiter (its queue entry renewed) once its polling
       * slowed to 100 ms or more: a release sent now runs in Redis well before its next retry,
       * so it hears of the release from the notice alone.
       */
      async afterSlowRetry(): Promise<void> {
        const retried = async () => Number(await redis.client.zscore(alive, token));
        for (let last = await retried(); ;) {
          let next = last;
          await waitUntil(async () => (next = await retried()) !== last);
          if (next - last >= 100) return;
          last = next;
        }
      },
    };
  }

  it('keeps a lock handed over while its new holder was blocked (no spurious LockLostError)', async () => {
    const app = await setup();
    const { locks, key } = app;
    const holder = await locks.acquire('lag', { ttlMs: 20_000 });
    const held = locks.using(
      'lag',
      async (signal, lock) => {
        // Past the end of the hand-over lease, believed and in Redis: only a renewal keeps it.
        await sleep(HANDOVER_LEASE_MS + 500);
        return {
          aborted: signal.aborted,
          fencingToken: lock.fencingToken,
          pttl: await redis.client.pttl(key('lag', 'owner')),
        };
      },
      { ttlMs: 10_000, waitMs: 60_000 },
    );
    // Blocked for 80% of the hand-over lease: past the point where it is due for renewal, within
    // its life in Redis. A lease counted from before the block but topped up a third of it after
    // the block would end first: `signal` would abort although nobody else could take the lock.
    const waiter = await waiterOn(app, 'lag');
    await waiter.blockOnHandOver(() => blockEventLoopFor(HANDOVER_LEASE_MS * 0.8));
    await waiter.afterSlowRetry();
    await holder.release();
    const seen = await held;
    assert.equal(seen.aborted, false, 'the lock was reported lost although nobody else took it');
    assert.ok(seen.pttl > HANDOVER_LEASE_MS, `renewed to its ttlMs in Redis (PTTL ${seen.pttl})`);
    assert.ok(seen.fencingToken > holder.fencingToken);
  });

  itOnPrivateRedis(
    'never hands on a lock whose hand-over ran out while the waiter was blocked: another process took it',
    async () => {
      const app = await setup();
      const { locks, key, prefix } = app;
      const owner = key('shared', 'owner');
      const child = await startChild(prefix);
      const holder = await locks.acquire('shared', { ttlMs: 20_000 });
      const held = locks.using(
        'shared',
        async (signal, lock) => {
          const inRedis = LockStore.readOwner((await redis.client.get(owner)) ?? '');
          return {
            aborted: signal.aborted,
            fencingToken: lock.fencingToken,
            fencingTokenInRedis: inRedis?.fence,
            accepted: await fencedWrite(redis.client, 'store', lock.fencingToken, 'waiter'),
          };
        },
        { ttlMs: 10_000, waitMs: 60_000 },
      );
      // Blocked from the hand-over until the child, queued next, has taken the lock: past the
      // hand-over lease, which nothing could renew.
      const waiter = await waiterOn(app, 'shared');
      await waiter.blockOnHandOver(() => {
        const handedOver = redis.server!.cli('GET', owner);
        blockEventLoop(() => !['', handedOver].includes(redis.server!.cli('GET', owner)));
      });
      child.send({ type: 'hold', ttlMs: 10_000 });
      await waitUntil(async () => (await redis.client.zcard(key('shared', 'queue'))) === 2);
      await waiter.afterSlowRetry();
      await holder.release();
      const { fencingToken } = await child.reportOf('acquired');
      child.send({ type: 'write' });
      const report = await child.reportOf('wrote');
      assert.equal(report.aborted, false);
      assert.equal(report.accepted, true);
      const seen = await held;
      assert.equal(
        seen.fencingTokenInRedis,
        seen.fencingToken,
        'the work ran under a lock that Redis did not hold for it',
      );
      assert.ok(seen.fencingToken > Number(fencingToken), 'the waiter had to wait for the child');
      assert.equal(seen.aborted, false);
      assert.equal(seen.accepted, true);
    },
  );

  itOnPrivateRedis(
    'reports a holder blocked past its lease lost, and fences off its stale write',
    async () => {
      const { locks, key, prefix } = await setup();
      const owner = key('shared', 'owner');
      const child = await startChild(prefix);
      const seen = await locks.using(
        'shared',
        async (signal, lock) => {
          const mine = redis.server!.cli('GET', owner);
          child.send({ type: 'hold', ttlMs: 10_000 });
          await waitUntil(async () => (await redis.client.zcard(key('shared', 'queue'))) === 1);
          // Blocked past the lease (the watchdog cannot renew it) until the child has the lock.
          blockEventLoop(() => !['', mine].includes(redis.server!.cli('GET', owner)));
          // Resumed, this process runs its overdue timers (the watchdog) first, and they report
          // the lock lost at once: renewing first would leave `signal` un-aborted until the reply,
          // while code resumed meanwhile acts on a lock that is the child's.
          await sleep(0);
          const aborted = signal.aborted;
          const { fencingToken } = await child.reportOf('acquired');
          child.send({ type: 'write' });
          const report = await child.reportOf('wrote');
          assert.equal(report.accepted, true);
          return {
            aborted,
            reason: signal.reason as unknown,
            fencingToken: lock.fencingToken,
            childFencingToken: Number(fencingToken),
            accepted: await fencedWrite(redis.client, 'store', lock.fencingToken, 'stale'),
          };
        },
        { ttlMs: 600 },
      );
      assert.equal(seen.aborted, true, 'the blocked holder must find its signal aborted on resume');
      assert.ok(seen.reason instanceof LockLostError);
      assert.ok(seen.childFencingToken > seen.fencingToken);
      assert.equal(seen.accepted, false, 'the stale write must be refused');
    },
  );
});
