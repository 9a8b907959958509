import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  InvalidArgumentError,
  PubSubService,
  QueueService,
  RedisCommandError,
  RedisCoordinationModule,
  RedisLockService,
  ReplicaAckError,
  type RedisCoordinationModuleOptions,
} from '../../../lib/index.js';
import { KeySpace } from '../../../lib/connection/key-space.js';
import { resourceKeys } from '../../../lib/lock/lock.keys.js';
import { queueKeys } from '../../../lib/queue/queue.keys.js';
import { streamKey, waitUntil } from '../pubsub/pubsub-helpers.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, RedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

/** Long enough for any test here to act while a call waits; below the 5 s command timeout. */
const PATIENT = { replicas: 1, timeoutMs: 4000 };
/** For the call whose first WAIT, after NOSCRIPT, waits out its whole timeout. */
const BRIEF = { replicas: 1, timeoutMs: 1000 };
/** Short, for calls that must give up while the replica is frozen. */
const IMPATIENT = { replicas: 1, timeoutMs: 300 };
/**
 * How long a call is watched for returning early, once its write is on the master: without
 * `WAIT` it returns within a round trip (well under a millisecond here).
 */
const WATCH_MS = 200;

describeWithRedisServer(
  'replicaAcks: writes that wait for a replica (master + real replica)',
  () => {
    const master = useRedisServer();
    let replica: RedisServer;
    let onMaster: Redis;
    let onReplica: Redis;
    beforeAll(async () => {
      replica = await RedisServer.start({ replicaOf: { host: master.host, port: master.port } });
      onMaster = new Redis(master.url, { disconnectTimeout: 0 });
      onReplica = new Redis(replica.url, { disconnectTimeout: 0 });
    });
    afterAll(async () => {
      onMaster.disconnect();
      onReplica.disconnect();
      await replica.dispose();
    });
    // A failed assertion must not leave the replica frozen for the next test.
    afterEach(() => replica.resume());
    closeModulesAfterEach();

    async function start(options: RedisCoordinationModuleOptions = {}, warm = true) {
      const keyPrefix = uniqueKeyPrefix();
      const moduleRef = await startModule([
        RedisCoordinationModule.forRoot({ url: master.url, keyPrefix, ...options }),
      ]);
      const keys = new KeySpace(keyPrefix);
      const app = {
        keyPrefix,
        locks: moduleRef.get(RedisLockService),
        queue: moduleRef.get(QueueService),
        pubsub: moduleRef.get(PubSubService),
        owner: (resource: string) => resourceKeys(keys, resource).owner,
        waiters: (resource: string) => resourceKeys(keys, resource).queue,
        jobs: (queue: string) => queueKeys(keys, queue).jobs,
      };
      // Opens the app's connection of acknowledged writes and loads the scripts while the replica
      // runs: on Redis 7.0 the first WAIT of a fresh connection waits for the replica even with
      // nothing written on it, and so does the WAIT after a write refused with NOSCRIPT.
      const warmUp = { replicaAcks: PATIENT };
      if (!warm) return app;
      await (await app.locks.acquire('warm-up', warmUp)).release();
      await app.queue.add('warm-up', 0, warmUp);
      await app.pubsub.publish('warm-up', 0, { durable: true, ...warmUp });
      return app;
    }

    /**
     * Freezes the replica, starts `call`, waits until its write is on the master (`applied`), and
     * checks that the call is still waiting some time later; then wakes the replica and returns
     * the call's outcome.
     */
    async function withReplicaFrozen<T>(
      call: () => Promise<T>,
      applied: () => Promise<boolean>,
    ): Promise<T> {
      replica.pause();
      let settled = false;
      const result = call();
      result.then(
        () => (settled = true),
        () => (settled = true),
      );
      try {
        await waitUntil(applied);
        await sleep(WATCH_MS);
        assert.equal(settled, false, 'the call returned before the replica confirmed its write');
      } finally {
        replica.resume();
      }
      return result;
    }

    /** Settles `call` while the replica is frozen throughout. */
    async function whileReplicaFrozen<T>(call: () => Promise<T>): Promise<T> {
      replica.pause();
      try {
        return await call();
      } finally {
        replica.resume();
      }
    }

    it('a lock acquire, a job add and a durable publish return only once the replica holds them', async () => {
      const app = await start({ replicaAcks: PATIENT });

      const lock = await withReplicaFrozen(
        () => app.locks.acquire('a'),
        async () => (await onMaster.exists(app.owner('a'))) === 1,
      );
      assert.equal(await onReplica.exists(app.owner('a')), 1, 'the lock is on the replica');
      await lock.release();

      // Per call, with the module option off for it: the call's own value counts.
      const other = await start();
      const id = await withReplicaFrozen(
        () => other.queue.add('emails', { to: 'a' }, { jobId: 'job-1', replicaAcks: PATIENT }),
        async () => (await onMaster.hexists(other.jobs('emails'), 'job-1')) === 1,
      );
      assert.equal(
        await onReplica.hexists(other.jobs('emails'), id),
        1,
        'the job is on the replica',
      );

      const stream = streamKey(app.keyPrefix, 'orders');
      const entry = await withReplicaFrozen(
        () => app.pubsub.publish('orders', { n: 1 }, { durable: true }),
        async () => (await onMaster.xlen(stream)) === 1,
      );
      assert.equal((await onReplica.xrange(stream, entry, entry)).length, 1, 'on the replica');
    });

    it('addBulk and using() wait too', async () => {
      const app = await start({ replicaAcks: PATIENT });
      const ids = await withReplicaFrozen(
        () => app.queue.addBulk('bulk', [{ data: 1 }, { data: 2 }], {}),
        async () => (await onMaster.hlen(app.jobs('bulk'))) === 2,
      );
      assert.deepEqual((await onReplica.hmget(app.jobs('bulk'), ...ids)).map(Boolean), [
        true,
        true,
      ]);

      let ran = false;
      await withReplicaFrozen(
        () =>
          app.locks.using('u', async () => {
            ran = true;
            assert.equal(await onReplica.exists(app.owner('u')), 1, 'held on the replica too');
          }),
        async () => (await onMaster.exists(app.owner('u'))) === 1,
      );
      assert.equal(ran, true);
    });

    it('a waiter that asks for replicas takes the lock itself and returns once the replica holds it', async () => {
      const app = await start();
      const holder = await app.locks.acquire('w', { ttlMs: 30_000 });
      const waiter = app.locks.acquire('w', { waitMs: 20_000, replicaAcks: PATIENT });
      await waitUntil(async () => (await onMaster.exists(app.waiters('w'))) === 1);
      const holderOwner = await onMaster.get(app.owner('w'));
      const lock = await withReplicaFrozen(
        async () => {
          await holder.release();
          return waiter;
        },
        async () => ![null, holderOwner].includes(await onMaster.get(app.owner('w'))),
      );
      assert.equal(await onReplica.get(app.owner('w')), await onMaster.get(app.owner('w')));
      assert.ok(lock.fencingToken > holder.fencingToken);
      await lock.release();
    });

    it('fails with ReplicaAckError after timeoutMs while the replica is frozen: the lock is freed, the job and message stay', async () => {
      const app = await start({ replicaAcks: IMPATIENT });

      const refused = await whileReplicaFrozen(() =>
        app.locks.acquire('b').then(
          () => assert.fail('acquired without the replica'),
          (error: unknown) => error,
        ),
      );
      assert.ok(refused instanceof ReplicaAckError, String(refused));
      assert.equal(refused.code, 'REDIS_REPLICA_ACK');
      assert.deepEqual(
        [refused.required, refused.acknowledged, refused.timeoutMs, refused.ids],
        [1, 0, 300, []],
      );
      assert.match(refused.message, /Lock "b" .*only 0 of 1 replica.*300 ms.*freed again/);
      assert.equal(await onMaster.exists(app.owner('b')), 0, 'the lock was freed');
      let ran = false;
      await assert.rejects(
        whileReplicaFrozen(() => app.locks.using('c', () => (ran = true))),
        ReplicaAckError,
      );
      assert.equal(ran, false, 'using() never ran its work');
      assert.equal(await app.locks.isLocked(['b', 'c']), false);

      await assert.rejects(
        whileReplicaFrozen(() => app.queue.add('emails', { to: 'b' }, { jobId: 'job-2' })),
        (error: unknown) =>
          error instanceof ReplicaAckError &&
          error.ids.join() === 'job-2' &&
          /Job job-2 of queue "emails".*stay queued/.test(error.message),
      );
      assert.equal(await onMaster.hexists(app.jobs('emails'), 'job-2'), 1, 'the job was added');
      assert.equal((await app.queue.counts('emails')).waiting, 1);

      const published = await whileReplicaFrozen(() =>
        app.pubsub.publish('orders', 'x', { durable: true }).then(
          () => assert.fail('published without the replica'),
          (error: unknown) => error as ReplicaAckError,
        ),
      );
      assert.ok(published instanceof ReplicaAckError);
      const stream = streamKey(app.keyPrefix, 'orders');
      assert.deepEqual(
        (await onMaster.xrange(stream, '-', '+')).map(([id]) => id),
        published.ids,
        'the message is in the stream under the id the error names',
      );
    });

    it('with the option off (unset, or false for one call) the same calls succeed while the replica is frozen', async () => {
      const app = await start({ replicaAcks: IMPATIENT });
      const off = { replicaAcks: false as const };
      await whileReplicaFrozen(async () => {
        const lock = await app.locks.acquire('d', off);
        await lock.release();
        await app.queue.add('emails', { to: 'd' }, off);
        await app.queue.addBulk('emails', [{ data: 1 }], off);
        await app.pubsub.publish('orders', 'd', { durable: true, ...off });
      });
      const plain = await start();
      await whileReplicaFrozen(async () => {
        const lock = await plain.locks.acquire('d');
        await lock.release();
        await plain.queue.add('emails', { to: 'd' });
        await plain.pubsub.publish('orders', 'd', { durable: true });
      });
    });

    it("blocks only its own connection: the app's other calls go on while one waits", async () => {
      const app = await start({ replicaAcks: PATIENT });
      replica.pause();
      try {
        let settled = false;
        const waiting = app.queue.add('emails', 1).finally(() => (settled = true));
        await waitUntil(async () => (await onMaster.hlen(app.jobs('emails'))) === 1);
        const lock = await app.locks.acquire('e', { replicaAcks: false });
        await lock.release();
        await app.pubsub.publish('broadcast', 'e');
        assert.equal(settled, false, 'the other calls did not wait for it');
        replica.resume();
        await waiting;
      } finally {
        replica.resume();
      }
    });

    it('sends the script in full after SCRIPT FLUSH and still waits', async () => {
      // The WAIT that follows the refused EVALSHA waits out its timeout (the replica is frozen
      // by then), and only then does the script go in full, with a WAIT of its own.
      const app = await start({ replicaAcks: BRIEF });
      await onMaster.script('FLUSH');
      const lock = await withReplicaFrozen(
        () => app.locks.acquire('f'),
        async () => (await onMaster.exists(app.owner('f'))) === 1,
      );
      assert.equal(await onReplica.exists(app.owner('f')), 1);
      await lock.release();
    });

    it('reports a WAIT the ACL refuses as ReplicaAckError naming the grant; the job stays', async () => {
      master.cli('ACL', 'SETUSER', 'nowait', 'reset', 'on', '>pw', '~*', '&*', '+@all', '-wait');
      try {
        const app = await start({ url: `redis://nowait:pw@${master.host}:${master.port}` }, false);
        const error = await app.queue.add('q', 1, { jobId: 'j', replicaAcks: PATIENT }).then(
          () => assert.fail('WAIT was allowed'),
          (e: unknown) => e as ReplicaAckError,
        );
        assert.ok(error instanceof ReplicaAckError);
        assert.ok(error.cause instanceof RedisCommandError, String(error.cause));
        assert.match(error.message, /NOPERM.*grant \+wait/);
        assert.equal(await onMaster.hexists(app.jobs('q'), 'j'), 1);
      } finally {
        master.cli('ACL', 'DELUSER', 'nowait');
      }
    });

    it('refuses bad replicaAcks per call, and on a broadcast', async () => {
      const app = await start();
      await assert.rejects(
        app.locks.acquire('g', { replicaAcks: { replicas: 1, timeoutMs: 5000 } }),
        (e: unknown) =>
          e instanceof InvalidArgumentError && /command timeout \(5000 ms\)/.test(e.message),
      );
      await assert.rejects(
        app.queue.add('q', 1, { replicaAcks: { replicas: 0, timeoutMs: 10 } }),
        InvalidArgumentError,
      );
      await assert.rejects(
        app.pubsub.publish('c', 1, { replicaAcks: PATIENT }),
        (e: unknown) => e instanceof InvalidArgumentError && /durable publishes/.test(e.message),
      );
      await assert.rejects(
        app.queue.addBulk('q', [], { replicAcks: PATIENT } as never),
        /did you mean "replicaAcks"/,
      );
    });
  },
);
