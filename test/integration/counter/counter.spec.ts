import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  CounterService,
  CounterValueError,
  InvalidArgumentError,
  RedisCoordinationModule,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

describe('CounterService', () => {
  let counters: CounterService;
  let connections: RedisConnections;
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function start() {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
    ]);
    counters = moduleRef.get(CounterService);
    connections = moduleRef.get(RedisConnections);
  }
  const keyOf = (name: string) => connections.keys.base('counter', 'counter name', name);

  it('increments, decrements, reads, resets; a missing counter reads 0', async () => {
    await start();
    assert.equal(await counters.get('views'), 0);
    assert.equal(await counters.increment('views'), 1);
    assert.equal(await counters.increment('views', 41), 42);
    assert.equal(await counters.decrement('views', 2), 40);
    assert.equal(await counters.decrement('views'), 39);
    assert.equal(await counters.get('views'), 39);
    assert.equal(await redis.client.get(keyOf('views')), '39');
    assert.equal(await counters.reset('views'), true);
    assert.equal(await counters.get('views'), 0);
    assert.equal(await counters.reset('views'), false);
  });

  it('getMany reads several counters in order, missing ones as 0', async () => {
    await start();
    await counters.increment('a', 3);
    await counters.increment('c', 7);
    assert.deepEqual(await counters.getMany(['a', 'b', 'c']), [3, 0, 7]);
    assert.deepEqual(await counters.getMany([]), []);
  });

  it('sets ttlMs with the first increment and keeps the running expiry after', async () => {
    await start();
    await counters.increment('window', 1, { ttlMs: 60_000 });
    const first = await redis.client.pttl(keyOf('window'));
    assert.ok(first > 0 && first <= 60_000, `pttl ${first}`);
    await counters.increment('window', 1, { ttlMs: 600_000 });
    const second = await redis.client.pttl(keyOf('window'));
    assert.ok(second > 0 && second <= first, `expiry not pushed back: ${first} -> ${second}`);
    // A counter without expiry (e.g. created without ttlMs) gets one on its next increment.
    await counters.increment('plain');
    assert.equal(await redis.client.pttl(keyOf('plain')), -1);
    await counters.increment('plain', 1, { ttlMs: 30_000 });
    assert.ok((await redis.client.pttl(keyOf('plain'))) > 0);
  });

  it('returns bigint beyond Number.MAX_SAFE_INTEGER and exact values up to int64', async () => {
    await start();
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    assert.equal(await counters.increment('big', safe - 1n), Number.MAX_SAFE_INTEGER - 1);
    assert.equal(await counters.increment('big'), Number.MAX_SAFE_INTEGER);
    assert.equal(await counters.increment('big'), safe + 1n);
    assert.equal(await counters.increment('big', 2), safe + 3n);
    assert.equal(await counters.get('big'), safe + 3n);
    assert.deepEqual(await counters.getMany(['big']), [safe + 3n]);
    const max = 2n ** 63n - 1n;
    assert.equal(await counters.increment('max', max), max);
    await assert.rejects(counters.increment('max'), CounterValueError);
    assert.equal(await counters.get('max'), max);
    assert.equal(await counters.increment('neg', -(2n ** 60n)), -(2n ** 60n));
  });

  it('never returns a rounded number when another instance pushed a counter past 2^52', async () => {
    await start();
    await redis.client.set(keyOf('jumped'), String(2n ** 53n + 10n));
    // This process has not seen the counter yet: its plain INCRBY reply is not exact, so the
    // increment is applied and reported as a typed error instead of a wrong number...
    await assert.rejects(counters.increment('jumped'), CounterValueError);
    assert.equal(await redis.client.get(keyOf('jumped')), String(2n ** 53n + 11n));
    // ...and from then on the counter goes through the exact path.
    assert.equal(await counters.increment('jumped'), 2n ** 53n + 12n);
    assert.equal(await counters.decrement('jumped', 2), 2n ** 53n + 10n);
    assert.equal(await counters.get('jumped'), 2n ** 53n + 10n);
    // Around 2^50..2^52 the plain reply is still exact, and the counter switches path.
    await redis.client.set(keyOf('near'), String(2 ** 51));
    assert.equal(await counters.increment('near', 3), 2 ** 51 + 3);
    assert.equal(await counters.increment('near', 2 ** 52), 2 ** 52 + 2 ** 51 + 3);
    assert.equal(await counters.increment('near', 2 ** 52), 2n ** 53n + 2n ** 51n + 3n);
  });

  it('refuses non-integer amounts and bad options with typed errors', async () => {
    await start();
    for (const by of [1.5, Number.NaN, Infinity, '1', 2n ** 63n, null]) {
      await assert.rejects(counters.increment('x', by as number), InvalidArgumentError, String(by));
    }
    await assert.rejects(counters.increment('x', 1, { ttlMs: -5 }), InvalidArgumentError);
    await assert.rejects(counters.increment('', 1), /Invalid counter name/);
    await assert.rejects(counters.hit('x', { limit: 0, windowMs: 1000 }), InvalidArgumentError);
    await assert.rejects(counters.hit('x', { limit: 1, windowMs: 0 }), InvalidArgumentError);
    await assert.rejects(
      counters.hit('x', { limit: 1e12, windowMs: 1000 }),
      (e) => e instanceof InvalidArgumentError && /limit .*from 1 to 1000000/.test(e.message),
    );
    await assert.rejects(
      counters.getMany('abc' as unknown as string[]),
      (e) =>
        e instanceof InvalidArgumentError && /names "abc".*array of counter names/.test(e.message),
    );
    assert.equal(await counters.get('x'), 0);
  });

  it('reports a key that holds no integer as CounterValueError', async () => {
    await start();
    await redis.client.set(keyOf('text'), 'hello');
    await assert.rejects(counters.increment('text'), CounterValueError);
    await assert.rejects(counters.get('text'), CounterValueError);
  });

  it('hit() allows limit hits per sliding window and says when the next is allowed', async () => {
    await start();
    const options = { limit: 3, windowMs: 400 };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await counters.hit('login', options));
    assert.deepEqual(
      results.map((r) => [r.allowed, r.count, r.remaining]),
      [
        [true, 1, 2],
        [true, 2, 1],
        [true, 3, 0],
        [false, 3, 0],
      ],
    );
    assert.equal(results[0]!.resetInMs, 0);
    const denied = results[3]!;
    assert.ok(denied.resetInMs > 0 && denied.resetInMs <= 400, `resetInMs ${denied.resetInMs}`);
    await new Promise((resolve) => setTimeout(resolve, denied.resetInMs + 20));
    assert.equal((await counters.hit('login', options)).allowed, true);
    // Other keys are counted apart.
    assert.equal((await counters.hit('other', options)).count, 1);
  });

  it('hit() with blockMs denies for the whole block once the limit is passed', async () => {
    await start();
    const options = { limit: 1, windowMs: 100, blockMs: 60_000 };
    assert.equal((await counters.hit('blocked', options)).allowed, true);
    const denied = await counters.hit('blocked', options);
    assert.equal(denied.allowed, false);
    assert.ok(denied.blockedForMs > 1000);
    await new Promise((resolve) => setTimeout(resolve, 150)); // the window alone has freed up
    const still = await counters.hit('blocked', options);
    assert.equal(still.allowed, false);
    assert.ok(still.blockedForMs > 0);
  });
});
