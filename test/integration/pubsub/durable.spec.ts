import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from '@jest/globals';
import { DuplicateConsumerError, type DurableMessageMeta } from '../../../lib/index.js';
import { closeModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import {
  consumersOf,
  recordDeliveries,
  startPubSubApp,
  streamKey,
  waitUntil,
} from './pubsub-helpers.js';

describe('PubSubService durable channels', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  const app = (keyPrefix: string) => startPubSubApp(redis.url, keyPrefix);

  async function pendingCount(key: string, group: string): Promise<number> {
    const reply = (await redis.client.xpending(key, group)) as [number];
    return Number(reply[0]);
  }

  it('gives every group every message; within a group each message goes to one app', async () => {
    const prefix = uniqueKeyPrefix();
    const apps = await Promise.all([app(prefix), app(prefix), app(prefix)]);
    const billing: number[][] = [[], []];
    const audit: number[] = [];
    for (const [i, { pubsub }] of apps.slice(0, 2).entries()) {
      await pubsub.subscribe<number>('orders', (n) => void billing[i]!.push(n), {
        group: 'billing',
      });
    }
    await apps[2]!.pubsub.subscribe<number>('orders', (n) => void audit.push(n), {
      group: 'audit',
    });
    const total = 500;
    const ids = await Promise.all(
      Array.from({ length: total }, (_, n) =>
        apps[0]!.pubsub.publish('orders', n, { durable: true }),
      ),
    );
    assert.equal(new Set(ids).size, total);
    await waitUntil(
      () => billing[0]!.length + billing[1]!.length === total && audit.length === total,
    );
    const all = Array.from({ length: total }, (_, n) => n);
    assert.deepEqual(
      [...billing[0]!, ...billing[1]!].sort((a, b) => a - b),
      all,
      'no loss, no duplicate',
    );
    assert.deepEqual(audit, all, 'one consumer handles its group in stream order');
    await waitUntil(async () => (await pendingCount(streamKey(prefix, 'orders'), 'billing')) === 0);
  });

  it('handles what was published before the first consumer started (startFrom oldest)', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub } = await app(prefix);
    await pubsub.publish('early', 'first', { durable: true });
    const got: string[] = [];
    await pubsub.subscribe<string>('early', (m) => void got.push(m), { group: 'g' });
    await pubsub.publish('early', 'second', { durable: true });
    await waitUntil(() => got.length === 2);
    assert.deepEqual(got, ['first', 'second']);
  });

  it('retries a failing message with backoff, then dead-letters it, while others flow', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub, logger } = await app(prefix);
    const attempts: number[] = [];
    const attemptTimes: number[] = [];
    const handled: number[] = [];
    await pubsub.subscribe<number>(
      'payments',
      async function charge(n: number, meta: DurableMessageMeta) {
        if (n === 3) {
          attempts.push(meta.deliveries);
          attemptTimes.push(performance.now());
          throw new Error('card declined');
        }
        handled.push(n);
      },
      { group: 'billing', maxDeliveries: 3, retryDelayMs: 20 },
    );
    for (let n = 0; n < 10; n++) await pubsub.publish('payments', n, { durable: true });
    await waitUntil(async () => (await pubsub.deadLetters('payments')).length === 1);
    assert.deepEqual(handled, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(attempts, [1, 2, 3]);
    // Backoff doubles from retryDelayMs: 20 ms, then 40 ms (1 ms slack for timer rounding).
    assert.ok(attemptTimes[1]! - attemptTimes[0]! >= 19, 'first retry not before 20 ms');
    assert.ok(attemptTimes[2]! - attemptTimes[1]! >= 39, 'second retry not before 40 ms');
    const [dead] = await pubsub.deadLetters('payments');
    assert.equal(dead!.group, 'billing');
    assert.equal(dead!.payload, '3');
    assert.equal(dead!.error, 'card declined');
    assert.equal(dead!.deliveries, 3);
    assert.equal(await pendingCount(streamKey(prefix, 'payments'), 'billing'), 0, 'acknowledged');
    assert.ok(logger.lines.some((l) => /Handler charge failed on message .*"payments"/.test(l)));
  });

  it("reclaims a dead consumer's message, and dead-letters it unrun past maxDeliveries", async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub } = await app(prefix);
    const key = streamKey(prefix, 'crashy');
    await pubsub.publish('crashy', 'once', { durable: true });
    await pubsub.publish('crashy', 'twice', { durable: true });
    await redis.client.xgroup('CREATE', key, 'g', '0');
    // A consumer that reads both messages and dies without acknowledging them.
    await redis.client.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 1, 'STREAMS', key, '>');
    await redis.client.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 1, 'STREAMS', key, '>');
    await redis.client.xclaim(
      key,
      'g',
      'ghost',
      0,
      (await redis.client.xrange(key, '-', '+'))[1]![0],
    );
    // 'once' was delivered once, 'twice' twice (read, then claimed again): maxDeliveries is 2.
    const got: Array<[string, number]> = [];
    await pubsub.subscribe<string>('crashy', (m, meta) => void got.push([m, meta.deliveries]), {
      group: 'g',
      claimIdleMs: 100,
      maxDeliveries: 2,
    });
    await waitUntil(
      async () => got.length === 1 && (await pubsub.deadLetters('crashy')).length === 1,
    );
    assert.deepEqual(got, [['once', 2]], 'reclaimed and handled as its 2nd delivery');
    const [dead] = await pubsub.deadLetters('crashy');
    assert.equal(dead!.payload, '"twice"');
    assert.equal(dead!.deliveries, 3);
    assert.match(dead!.error, /consumer stopped during delivery 2/);
    assert.equal(await pendingCount(key, 'g'), 0);
  });

  // The timeout only turns a consumer never removed (or a message lost) into a failure, not a hang.
  it('removes consumers that dead processes left, once nothing is pending on them, never its own', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub, logger } = await app(prefix);
    const key = streamKey(prefix, 'ghosts');
    for (const m of ['done', 'held-1', 'held-2']) {
      await pubsub.publish('ghosts', m, { durable: true });
    }
    await redis.client.xgroup('CREATE', key, 'g', '0');
    // Consumers of two processes killed meanwhile: one had acknowledged what it read, the
    // other died holding two messages.
    await redis.client.xreadgroup('GROUP', 'g', 'ghost-done', 'COUNT', 1, 'STREAMS', key, '>');
    await redis.client.xack(key, 'g', (await redis.client.xrange(key, '-', '+'))[0]![0]);
    await redis.client.xreadgroup('GROUP', 'g', 'ghost-holding', 'COUNT', 2, 'STREAMS', key, '>');
    // Both idle past 2 × claimIdleMs before the subscriber starts: its first cycle claims one
    // message (batchSize 1), so 'ghost-holding' still has one pending when pruning first runs.
    await waitUntil(async () =>
      (await consumersOf(redis.client, key, 'g')).every(({ idle }) => idle > 200),
    );
    const record = await recordDeliveries(pubsub, 'ghosts', {
      group: 'g',
      claimIdleMs: 100,
      batchSize: 1,
    });
    await waitUntil(
      async () =>
        record.got.length === 2 && (await consumersOf(redis.client, key, 'g')).length === 1,
    );
    assert.deepEqual(
      record.got,
      [
        ['held-1', 2],
        ['held-2', 2],
      ],
      "the dead consumer's messages handled",
    );
    assert.deepEqual(
      (await consumersOf(redis.client, key, 'g')).map(({ name }) => name),
      [record.consumer],
      'its own consumer stays',
    );
    const removal = /^Removed \d consumer\(s\) of channel "ghosts" \(group "g"\) idle over 200 ms/;
    const removals = logger.lines.filter((line) => removal.test(line)).join('\n');
    assert.match(removals, /ghost-done/);
    assert.match(removals, /ghost-holding/);
  }, 20_000);

  it('keeps the consumers of live apps on a quiet stream', async () => {
    const prefix = uniqueKeyPrefix();
    const apps = await Promise.all([app(prefix), app(prefix)]);
    const key = streamKey(prefix, 'quiet');
    let handled = 0;
    const consumers = new Set<string>();
    for (const { pubsub } of apps) {
      await pubsub.subscribe<number>(
        'quiet',
        (_n, meta) => {
          handled++;
          consumers.add(meta.consumer);
        },
        { group: 'g', claimIdleMs: 100 },
      );
    }
    for (let n = 0; n < 10; n++) await apps[0]!.pubsub.publish('quiet', n, { durable: true });
    await waitUntil(() => handled === 10);
    // A lower bound, not a budget: quiet for over 2 × claimIdleMs plus one pruning interval.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const names = (await consumersOf(redis.client, key, 'g')).map(({ name }) => name);
    assert.equal(names.length, 2, 'one consumer per app');
    for (const consumer of consumers) assert.ok(names.includes(consumer), `${consumer} listed`);
    for (const { logger } of apps) {
      assert.ok(!logger.lines.some((line) => line.startsWith('Removed')), 'none removed');
    }
  });

  it('lets a running handler finish and acknowledge at shutdown', async () => {
    const prefix = uniqueKeyPrefix();
    const { moduleRef, pubsub } = await app(prefix);
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let finished = false;
    await pubsub.subscribe(
      'slow',
      async () => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 200));
        finished = true;
      },
      { group: 'g' },
    );
    await pubsub.publish('slow', 1, { durable: true });
    await running;
    await closeModule(moduleRef);
    assert.equal(finished, true);
    assert.equal(await pendingCount(streamKey(prefix, 'slow'), 'g'), 0);
    // It left the group: restarts do not pile up consumers.
    assert.deepEqual(await redis.client.xinfo('CONSUMERS', streamKey(prefix, 'slow'), 'g'), []);
  });

  it('trims the stream to about maxLen, and refuses two handlers of one group in an app', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub } = await app(prefix);
    for (let n = 0; n < 1000; n++) await pubsub.publish('log', n, { durable: true, maxLen: 100 });
    const length = await redis.client.xlen(streamKey(prefix, 'log'));
    assert.ok(length >= 100 && length < 1000, `stream trimmed to ${length}`);
    await pubsub.subscribe('log', () => undefined, { group: 'g' });
    await assert.rejects(
      pubsub.subscribe('log', () => undefined, { group: 'g' }),
      DuplicateConsumerError,
    );
  });
});
