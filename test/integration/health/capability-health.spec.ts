import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import {
  InvalidArgumentError,
  LeaderElectionService,
  PubSubService,
  QueueService,
  RedisCoordinationModule,
  RedisHealthIndicator,
} from '../../../lib/index.js';
import { eventually } from '../../support/eventually.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';

describeWithRedisServer('RedisHealthIndicator per-capability checks', () => {
  const server = useRedisServer();
  closeModulesAfterEach();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function start(keyPrefix = uniqueKeyPrefix()) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: server.url, keyPrefix }),
    ]);
    return {
      keyPrefix,
      health: moduleRef.get(RedisHealthIndicator),
      queues: moduleRef.get(QueueService),
      pubsub: moduleRef.get(PubSubService),
      elections: moduleRef.get(LeaderElectionService),
    };
  }

  it('queueBacklog: up while nothing waits, down once the oldest waiting job is over the threshold', async () => {
    const { health, queues } = await start();
    assert.deepEqual(await health.queueBacklog('mail', 'mail', { maxWaitingMs: 60_000 }), {
      mail: { status: 'up', oldestWaitingMs: null },
    });
    const id = await queues.add('mail', { to: 'a@example.com' });
    await eventually('the job has waited over 0 ms', async () => {
      const result = await health.queueBacklog('mail', 'mail', { maxWaitingMs: 0 });
      return result.mail?.status === 'down';
    });
    const result = await health.queueBacklog('mail', 'mail', { maxWaitingMs: 0 });
    assert.equal(result.mail?.status, 'down');
    assert.match(
      (result.mail as { message: string }).message,
      new RegExp(`^job ${id} of queue "mail" has waited \\d+ ms, over maxWaitingMs \\(0\\)$`),
    );
    const up = await health.queueBacklog('mail', 'mail', { maxWaitingMs: 60_000 });
    assert.equal(up.mail?.status, 'up');
    assert.ok((up.mail as { oldestWaitingMs: number }).oldestWaitingMs > 0);
  });

  it('finds the oldest waiting job behind newer jobs of a higher priority, and in a group', async () => {
    const { queues } = await start();
    const low = await queues.add('prio', 'low', { priority: -1 });
    await sleep(20);
    await queues.addBulk(
      'prio',
      [1, 2, 3].map((n) => ({ data: n, opts: { priority: 5 } })),
    );
    await queues.add('prio', 'normal');
    assert.equal((await queues.oldestWaiting('prio'))?.id, low);

    // tenant-z's job is the oldest, and its group sorts after tenant-a's.
    const grouped = await queues.add('groups', 'first', { group: 'tenant-z' });
    await sleep(20);
    await queues.add('groups', 'second', { group: 'tenant-a' });
    await queues.add('groups', 'ungrouped');
    assert.equal((await queues.oldestWaiting('groups'))?.id, grouped);
    assert.equal(await queues.oldestWaiting('empty'), undefined);
  });

  it('finds an older job of a lower priority within a group, and a delayed job no worker moved yet', async () => {
    const { queues } = await start();
    const low = await queues.add('grouped', 'low', { group: 'tenant', priority: -1 });
    await sleep(20);
    await queues.add('grouped', 'high', { group: 'tenant', priority: 5 });
    assert.equal((await queues.oldestWaiting('grouped'))?.id, low);

    const delayed = await queues.add('later', 'x', { delayMs: 30 });
    assert.equal(await queues.oldestWaiting('later'), undefined, 'not due yet');
    await eventually('the delayed job is overdue', async () => {
      const oldest = await queues.oldestWaiting('later');
      return oldest?.id === delayed && oldest.waitingMs > 0;
    });
  });

  it('queueBacklog: a job retried from the dead-letter list does not count the time it was dead', async () => {
    const { health, queues } = await start();
    const worker = queues.process('flaky', () => {
      throw new Error('down');
    });
    const id = await queues.add('flaky', 'x', { attempts: 1 });
    await eventually(
      'the job is dead',
      async () => (await queues.getJob('flaky', id))?.state === 'dead',
    );
    await worker.close();
    await sleep(200);
    assert.equal(await queues.retryDead('flaky', [id]), 1);
    const result = await health.queueBacklog('flaky', 'flaky', { maxWaitingMs: 100 });
    assert.equal(result.flaky?.status, 'up');
  });

  it('durableGroupLag: lag and pending against their thresholds, also where Redis cannot tell the lag', async () => {
    const { health, pubsub, keyPrefix } = await start();
    const unsubscribe = await pubsub.subscribe('orders', () => undefined, { group: 'billing' });
    await unsubscribe();
    const ids = await Promise.all(
      [1, 2, 3].map((n) => pubsub.publish('orders', n, { durable: true })),
    );
    const [billing] = await pubsub.groups('orders');
    assert.equal(billing?.group, 'billing');
    assert.equal(billing?.lag, 3);
    assert.equal(billing?.pending, 0);

    assert.deepEqual(await health.durableGroupLag('billing', 'orders', 'billing', { maxLag: 3 }), {
      billing: { status: 'up', lag: 3, pending: 0 },
    });
    assert.deepEqual(await health.durableGroupLag('billing', 'orders', 'billing', { maxLag: 2 }), {
      billing: {
        status: 'down',
        message: 'group "billing" of channel "orders" lags 3 messages, over maxLag (2)',
      },
    });

    // A deleted entry after the group's position: Redis reports no lag; it is counted instead.
    server.cli('XDEL', `${keyPrefix}{pubsub:orders}:stream`, ids[1]!);
    assert.equal((await pubsub.groups('orders'))[0]?.lag, null);
    assert.deepEqual(await health.durableGroupLag('billing', 'orders', 'billing', { maxLag: 5 }), {
      billing: { status: 'up', lag: 2, pending: 0 },
    });
    assert.equal(
      (await health.durableGroupLag('billing', 'orders', 'billing', { maxLag: 1 })).billing?.status,
      'down',
    );

    assert.deepEqual(await health.durableGroupLag('audit', 'orders', 'audit', { maxLag: 5 }), {
      audit: { status: 'down', message: 'channel "orders" has no consumer group "audit"' },
    });
  });

  it('durableGroupLag: down when more messages are pending than maxPending', async () => {
    const { health, pubsub } = await start();
    let release!: () => void;
    const handling = new Promise<void>((resolve) => (release = resolve));
    await pubsub.subscribe('jobs', () => handling, { group: 'slow' });
    await pubsub.publish('jobs', 'x', { durable: true });
    await eventually('the message is delivered', async () => {
      return (await pubsub.groups('jobs'))[0]?.pending === 1;
    });
    assert.deepEqual(
      await health.durableGroupLag('slow', 'jobs', 'slow', { maxLag: 0, maxPending: 0 }),
      {
        slow: {
          status: 'down',
          message: 'group "slow" of channel "jobs" has 1 messages pending, over maxPending (0)',
        },
      },
    );
    assert.equal(
      (await health.durableGroupLag('slow', 'jobs', 'slow', { maxLag: 0, maxPending: 1 })).slow
        ?.status,
      'up',
    );
    release();
  });

  it('leaderElected: down with no leader, up with the leader and its term, down after it leaves', async () => {
    const { health, elections } = await start();
    assert.deepEqual(await health.leaderElected('sweeper', 'sweeper'), {
      sweeper: { status: 'down', message: 'no leader elected for "sweeper"' },
    });
    const election = await elections.join('sweeper');
    assert.ok(election.isLeader);
    assert.deepEqual(await health.leaderElected('sweeper', 'sweeper'), {
      sweeper: { status: 'up', leader: elections.instanceId, term: election.term },
    });
    await election.leave();
    assert.equal((await health.leaderElected('sweeper', 'sweeper')).sweeper?.status, 'down');
  });

  it('refuses bad arguments with typed errors', async () => {
    const { health } = await start();
    await assert.rejects(
      health.queueBacklog('q', 'q', { maxWaitingMs: -1 }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /maxWaitingMs/.test(error.message),
    );
    await assert.rejects(
      health.leaderElected('l', 'sweeper', { backend: 'etcd' } as never),
      (error: unknown) => error instanceof InvalidArgumentError && /backend/.test(error.message),
    );
    await assert.rejects(
      health.durableGroupLag('c', 'c', 'g', { maxLag: 1, maxPendng: 2 } as never),
      (error: unknown) => error instanceof InvalidArgumentError && /maxPending/.test(error.message),
    );
  });

  it('answers down, naming Redis without its password, while Redis is stopped', async () => {
    server.cli('CONFIG', 'SET', 'requirepass', 'h3alth-secret');
    const url = `redis://:h3alth-secret@127.0.0.1:${server.port}`;
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url })]);
    const health = moduleRef.get(RedisHealthIndicator);
    await server.stop();
    try {
      const results = {
        ...(await health.queueBacklog('queue', 'mail', { maxWaitingMs: 1000, timeoutMs: 300 })),
        ...(await health.durableGroupLag('group', 'orders', 'billing', {
          maxLag: 1,
          timeoutMs: 300,
        })),
        ...(await health.leaderElected('leader', 'sweeper', { timeoutMs: 300 })),
      };
      for (const [key, result] of Object.entries(results)) {
        assert.equal(result.status, 'down', key);
        const { message } = result as { message: string };
        assert.match(
          message,
          new RegExp(`^Redis at redis://:\\*\\*\\*@127.0.0.1:${server.port}: `),
        );
        assert.doesNotMatch(message, /h3alth-secret/);
      }
    } finally {
      await server.restart();
    }
  });
});
