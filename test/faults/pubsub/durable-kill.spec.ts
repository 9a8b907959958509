import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';

import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';
import {
  consumersOf,
  startPubSubApp,
  streamKey,
  waitUntil,
} from '../../integration/pubsub/pubsub-helpers.js';

const TOTAL = 5000;

describe('Durable group when a consumer process is SIGKILLed', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  // The timeout only turns a lost message into a failure instead of a hang.
  it("handles all 5000 messages at least once; the killed one's are reclaimed", async () => {
    const prefix = uniqueKeyPrefix();
    const env = { REDIS_URL: redis.url, KEY_PREFIX: prefix, CHANNEL: 'orders', GROUP: 'workers' };
    const children = [0, 1, 2].map(() => spawnChild('pubsub-consumer', { env }));
    await Promise.all(children.map((child) => child.waitFor('ready')));
    const { pubsub } = await startPubSubApp(redis.url, prefix);
    const publishing = Promise.all(
      Array.from({ length: TOTAL }, (_, n) => pubsub.publish('orders', n, { durable: true })),
    );
    // Kill one consumer once it is well into the stream, holding read but unacknowledged messages.
    const victim = children[0]!;
    await victim.waitFor('progress', (m) => Number(m.handled) >= 300);
    victim.signal('SIGKILL');
    await victim.exited;
    await publishing;

    const stream = streamKey(prefix, 'orders');
    const pending = async () =>
      Number(((await redis.client.xpending(stream, 'workers')) as [number])[0]);
    await waitUntil(
      async () =>
        (await redis.client.hlen(`${prefix}handled`)) === TOTAL && (await pending()) === 0,
    );

    const counts = Object.values(await redis.client.hgetall(`${prefix}handled`)).map(Number);
    assert.equal(counts.length, TOTAL, '0 lost: every message handled');
    assert.ok(counts.every((count) => count >= 1));
    const redelivered = Number(await redis.client.get(`${prefix}redelivered`));
    assert.ok(
      redelivered > 0,
      'messages pending on the killed consumer were reclaimed and handled',
    );
    assert.equal(await pending(), 0, 'all acknowledged');

    // The killed process's consumer leaves the group once idle over 2 × claimIdleMs (the
    // fixture's 1 s) with nothing pending; the live processes' consumers stay. Consumer names
    // hold the process id.
    const consumerPids = async () =>
      (await consumersOf(redis.client, stream, 'workers')).map(({ name }) =>
        Number(name.split(':').at(-2)),
      );
    await waitUntil(async () => !(await consumerPids()).includes(victim.pid));
    const livePids = children.slice(1).map((child) => child.pid);
    assert.deepEqual(
      (await consumerPids()).sort(),
      livePids.sort(),
      'only the live processes stay in the group',
    );

    const duplicates = counts.reduce((sum, count) => sum + count, 0) - TOTAL;
    console.log(`5000 messages: ${redelivered} handled on redelivery, ${duplicates} handled twice`);
  }, 120_000);
});
