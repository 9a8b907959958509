import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { Redis } from 'ioredis';
import { PubSubService, RedisCoordinationModule } from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';
import {
  consumersOf,
  recordDeliveries,
  startPubSubApp,
  streamKey,
  waitUntil,
} from '../../integration/pubsub/pubsub-helpers.js';

describeWithRedisServer('PubSubService across a Redis restart', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  it('restores channel and pattern subscriptions of every app; new messages arrive', async () => {
    const loggers = [new CapturingLogger(), new CapturingLogger()];
    const apps = await Promise.all(
      loggers.map((logger) =>
        startModule([RedisCoordinationModule.forRoot({ url: server.url })], { logger }),
      ),
    );
    const services = apps.map((moduleRef) => moduleRef.get(PubSubService));
    const received = services.map(() => [] as string[]);
    for (const [i, pubsub] of services.entries()) {
      await pubsub.subscribe<string>('news', (message) => {
        received[i]!.push(message);
      });
      await pubsub.subscribe<string>({ pattern: 'alerts.*' }, (message) => {
        received[i]!.push(message);
      });
    }
    assert.equal(await services[0]!.publish('news', 'before'), 2);

    await server.restart(); // a real redis-server restart: every connection drops

    // Publish until both apps' re-subscriptions have reached Redis.
    for (let i = 0; (await services[0]!.publish('news', `after-${i}`)) < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await services[1]!.publish('alerts.fire', 'fire'), 2);
    await waitUntil(() => received.every((list) => list.includes('fire')));
    // Nest's static Logger goes to the last logger set in the process: look at both.
    const lines = loggers.flatMap((logger) => logger.lines);
    const restored = lines.filter((l) =>
      /re-subscribed to 1 channel\(s\) and 1 pattern\(s\)/.test(l),
    );
    assert.equal(restored.length, 2, lines.join('\n'));
    for (const [i, list] of received.entries()) {
      assert.equal(list[0], 'before');
      assert.ok(
        list.some((m) => m.startsWith('after-')),
        `app ${i} got a message after restart`,
      );
    }
  });

  it('keeps a durable consumer reading: its group is recreated after Redis lost it', async () => {
    const logger = new CapturingLogger();
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })], {
      logger,
    });
    const pubsub = moduleRef.get(PubSubService);
    const got: string[] = [];
    await pubsub.subscribe<string>('orders', (message) => void got.push(message), { group: 'g' });
    await pubsub.publish('orders', 'before', { durable: true });
    await waitUntil(() => got.includes('before'));

    await server.restart(); // no persistence: the stream and its group are gone

    // Retry while the command connection is reconnecting.
    for (;;) {
      try {
        await pubsub.publish('orders', 'after', { durable: true });
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await waitUntil(() => got.includes('after'));
    assert.ok(
      logger.lines.some((l) =>
        /Consumer group "g" of channel "orders" was gone; recreating it/.test(l),
      ),
      logger.lines.join('\n'),
    );
  });
});

describeWithRedisServer('A durable group across a Redis outage, with AOF', () => {
  const server = useRedisServer({ appendOnly: true });
  closeModulesAfterEach();

  // The timeout only turns a message never handled (or a consumer never removed) into a failure.
  it('reclaims and removes a dead consumer from before the outage once Redis is back; loses nothing', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub, logger } = await startPubSubApp(server.url, prefix);
    const key = streamKey(prefix, 'jobs');
    await pubsub.publish('jobs', 'held', { durable: true });
    // A process that read a message and was killed before acknowledging it.
    const client = new Redis(server.url);
    await client.xgroup('CREATE', key, 'g', '0');
    await client.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 1, 'STREAMS', key, '>');
    client.disconnect();
    // Claimable after 2 s, removable after 4 s: neither happens before Redis goes down.
    const record = await recordDeliveries(pubsub, 'jobs', {
      group: 'g',
      claimIdleMs: 2000,
    });
    await pubsub.publish('jobs', 'before', { durable: true });
    await waitUntil(() => record.got.some(([message]) => message === 'before'));

    await server.stop();
    // The consumer noticed: its blocked read waits for Redis to come back.
    await waitUntil(() =>
      logger.lines.some((line) => /blocking:pubsub:jobs:g connection .* failed/.test(line)),
    );
    await server.restart();
    await pubsub.publish('jobs', 'after', { durable: true });

    const check = new Redis(server.url);
    try {
      await waitUntil(
        async () =>
          record.got.length === 3 &&
          (await consumersOf(check, key, 'g')).every((c) => c.name !== 'ghost'),
      );
      assert.deepEqual(
        record.got.map(([message, deliveries]) => [message, deliveries]).sort(),
        [
          ['after', 1],
          ['before', 1],
          ['held', 2],
        ],
        "every message handled once, the dead consumer's on its second delivery",
      );
      assert.deepEqual(
        (await consumersOf(check, key, 'g')).map(({ name }) => name),
        [record.consumer],
        'only the live consumer stays',
      );
      assert.equal(Number(((await check.xpending(key, 'g')) as [number])[0]), 0);
    } finally {
      check.disconnect();
    }
  }, 60_000);
});
