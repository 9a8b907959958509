import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  CodecError,
  InvalidArgumentError,
  InvalidKeyError,
  MessageTooLargeError,
  ShardedPatternError,
  type MessageMeta,
} from '../../../lib/index.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { startPubSubApp, waitUntil } from './pubsub-helpers.js';

describe('PubSubService broadcast', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  const app = (keyPrefix: string) =>
    startPubSubApp(redis.url, keyPrefix, { maxPayloadBytes: 4096 });

  /** Subscriber count of a channel as Redis sees it. */
  async function numsub(channel: string): Promise<number> {
    const reply = (await redis.client.pubsub('NUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  }

  it('delivers every one of 1000 messages, in order, to each of 3 separate apps', async () => {
    const prefix = uniqueKeyPrefix();
    const apps = await Promise.all([app(prefix), app(prefix), app(prefix)]);
    const received = apps.map(() => [] as number[]);
    let done!: () => void;
    const allIn = new Promise<void>((resolve) => (done = resolve));
    for (const [i, { pubsub }] of apps.entries()) {
      await pubsub.subscribe<{ n: number }>('inventory.changed', (message) => {
        received[i]!.push(message.n);
        if (received.every((list) => list.length === 1000)) done();
      });
    }
    const publisher = (await app(prefix)).pubsub;
    const counts = await Promise.all(
      Array.from({ length: 1000 }, (_, n) => publisher.publish('inventory.changed', { n })),
    );
    assert.ok(
      counts.every((count) => count === 3),
      'every publish reached 3 subscribers',
    );
    await allIn;
    const expected = Array.from({ length: 1000 }, (_, n) => n);
    for (const list of received) assert.deepEqual(list, expected);
  });

  it('uses shard channels on one server when shardedPubSub is set, and refuses patterns then', async () => {
    const prefix = uniqueKeyPrefix();
    const [subscriber, publisher] = await Promise.all([
      startPubSubApp(redis.url, prefix, { shardedPubSub: true }),
      startPubSubApp(redis.url, prefix, { shardedPubSub: true }),
    ]);
    const got: unknown[] = [];
    await subscriber.pubsub.subscribe('sharded.news', (message) => void got.push(message));
    const channels = (await redis.client.call('PUBSUB', 'SHARDCHANNELS', `${prefix}*`)) as string[];
    assert.equal(channels.length, 1);
    assert.equal(await publisher.pubsub.publish('sharded.news', 'hi'), 1);
    await waitUntil(() => got.length === 1);
    await assert.rejects(
      subscriber.pubsub.subscribe({ pattern: 'sharded.*' }, () => undefined),
      ShardedPatternError,
    );
  });

  it('matches patterns under its own key prefix only, and says which channel and pattern', async () => {
    const prefix = `${uniqueKeyPrefix()}[*]?:`; // glob characters in the prefix must match literally
    const { pubsub } = await app(prefix);
    const other = await app(uniqueKeyPrefix());
    const seen: Array<[unknown, MessageMeta]> = [];
    await pubsub.subscribe({ pattern: 'inventory.*' }, (message, meta) => {
      seen.push([message, meta]);
    });
    assert.equal(await other.pubsub.publish('inventory.changed', 'not mine'), 0);
    assert.equal(await pubsub.publish('orders.placed', 'no match'), 0);
    assert.equal(await pubsub.publish('inventory.changed', { sku: 'A1' }), 1);
    await waitUntil(() => seen.length === 1);
    assert.deepEqual(seen[0], [
      { sku: 'A1' },
      { channel: 'inventory.changed', pattern: 'inventory.*', raw: false },
    ]);
  });

  it('isolates a throwing handler: logged with channel and handler name, others still run', async () => {
    const { pubsub, logger } = await app(uniqueKeyPrefix());
    const got: string[] = [];
    await pubsub.subscribe('jobs', function failingSync() {
      throw new Error('sync boom');
    });
    await pubsub.subscribe('jobs', async function failingAsync() {
      throw new Error('async boom');
    });
    await pubsub.subscribe('jobs', (message: string) => {
      got.push(message);
    });
    await pubsub.publish('jobs', 'one');
    await pubsub.publish('jobs', 'two');
    await waitUntil(() => got.length === 2 && logger.lines.some((l) => l.includes('async boom')));
    assert.deepEqual(got, ['one', 'two']);
    assert.ok(
      logger.lines.some((l) => /Handler failingSync failed .*channel "jobs".*sync boom/s.test(l)),
      logger.lines.join('\n'),
    );
    assert.ok(logger.lines.some((l) => /Handler failingAsync failed .*"jobs"/s.test(l)));
  });

  it('skips an undecodable message with a warning naming the channel, or passes it raw', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub, logger } = await app(prefix);
    const skipped: unknown[] = [];
    const raw: Array<[unknown, MessageMeta]> = [];
    await pubsub.subscribe('feed', (message) => skipped.push(message));
    await pubsub.subscribe('feed', (message, meta) => raw.push([message, meta]), {
      onUndecodable: 'raw',
    });
    // What `redis-cli PUBLISH` would send: not JSON.
    await redis.client.publish(`${prefix}{pubsub:feed}`, 'hello from cli');
    await pubsub.publish('feed', { ok: true });
    await waitUntil(() => raw.length === 2 && skipped.length === 1);
    assert.deepEqual(skipped, [{ ok: true }]);
    assert.deepEqual(raw[0], [
      'hello from cli',
      { channel: 'feed', pattern: undefined, raw: true },
    ]);
    assert.deepEqual(raw[1]![0], { ok: true });
    assert.ok(
      logger.lines.some((l) => /Skipped a message on channel "feed"/.test(l)),
      logger.lines.join('\n'),
    );
  });

  it('decodes without prototype pollution', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub } = await app(prefix);
    const got: Array<Record<string, unknown>> = [];
    await pubsub.subscribe<Record<string, unknown>>('evil', (message) => {
      got.push(message);
    });
    await redis.client.publish(
      `${prefix}{pubsub:evil}`,
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}',
    );
    await waitUntil(() => got.length === 1);
    const message = got[0]!;
    assert.equal(message.a, 1);
    assert.equal(Object.getPrototypeOf(message), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((message as { polluted?: unknown }).polluted, undefined);
  });

  it('subscribe() resolves to an unsubscribe that really leaves the channel', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub } = await app(prefix);
    const off = await pubsub.subscribe('temp', () => undefined);
    assert.equal(await numsub(`${prefix}{pubsub:temp}`), 1);
    await off();
    assert.equal(await numsub(`${prefix}{pubsub:temp}`), 0);
    await off(); // twice is harmless
  });

  it('observe() opens one Redis subscription for all observers and closes it after the last', async () => {
    const prefix = uniqueKeyPrefix();
    const { pubsub } = await app(prefix);
    const channel = `${prefix}{pubsub:stock}`;
    const stream = pubsub.observe<{ qty: number }>('stock');
    assert.equal(await numsub(channel), 0, 'nothing opened before the first observer');
    const firstTwo = firstValueFrom(stream.pipe(take(2), toArray()));
    const values: number[] = [];
    const second = stream.subscribe((value) => values.push(value.qty));
    // Publish until the subscription is live (its opening is asynchronous).
    let n = 0;
    while ((await pubsub.publish('stock', { qty: n })) === 0) n++;
    assert.equal(await numsub(channel), 1, 'one Redis subscription shared by both observers');
    await pubsub.publish('stock', { qty: n + 1 });
    assert.deepEqual(await firstTwo, [{ qty: n }, { qty: n + 1 }]);
    await waitUntil(() => values.length === 2);
    assert.equal(await numsub(channel), 1, 'still open: one observer left');
    second.unsubscribe();
    await waitUntil(async () => (await numsub(channel)) === 0);
  });

  it('refuses bad input with typed errors naming the problem', async () => {
    const { pubsub } = await app(uniqueKeyPrefix());
    await assert.rejects(pubsub.publish('', 1), InvalidKeyError);
    await assert.rejects(pubsub.publish(42 as unknown as string, 1), InvalidKeyError);
    await assert.rejects(pubsub.publish('c', { f: () => 1 }), CodecError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(pubsub.publish('c', cyclic), CodecError);
    await assert.rejects(
      pubsub.publish('c', 'x'.repeat(5000)),
      (error: unknown) =>
        error instanceof MessageTooLargeError && /maxPayloadBytes \(4096\)/.test(error.message),
    );
    await assert.rejects(
      pubsub.publish('c', 'x'.repeat(5000), { durable: true }),
      MessageTooLargeError,
    );
    await assert.rejects(
      pubsub.subscribe('', () => undefined),
      InvalidKeyError,
    );
    await assert.rejects(
      pubsub.subscribe({ pattern: 'a[bc' }, () => undefined),
      InvalidArgumentError,
    );
    await assert.rejects(
      pubsub.subscribe({ pattern: 'a\\' }, () => undefined),
      InvalidArgumentError,
    );
    await assert.rejects(
      pubsub.subscribe({ pattern: '' }, () => undefined),
      InvalidKeyError,
    );
    await assert.rejects(pubsub.subscribe('c', 'nope' as never), InvalidArgumentError);
    await assert.rejects(
      pubsub.subscribe({ pattern: 'a.*' }, () => undefined, { group: 'g' } as never),
      InvalidArgumentError,
    );
    await assert.rejects(
      pubsub.subscribe('c', () => undefined, { onUndecodable: 'drop' as never }),
      InvalidArgumentError,
    );
    assert.throws(() => pubsub.observe({ pattern: '[' }), InvalidArgumentError);
    await assert.rejects(
      pubsub.subscribe('c', () => undefined, { group: 'g', maxDeliveries: 0 }),
      InvalidArgumentError,
    );
    await assert.rejects(
      pubsub.subscribe('c', () => undefined, { group: 'g', batchSize: 1e9 }),
      (e) => e instanceof InvalidArgumentError && /batchSize .*from 1 to 10000/.test(e.message),
    );
    await assert.rejects(
      pubsub.subscribe('c', () => undefined, { group: '' }),
      InvalidKeyError,
    );
  });
});
