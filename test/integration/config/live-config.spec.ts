import assert from 'node:assert/strict';
import { Injectable } from '@nestjs/common';
import { describe, it } from '@jest/globals';
import { firstValueFrom, take, toArray } from 'rxjs';
import {
  ConfigNotLoadedError,
  ConfigValidationError,
  ConfigVersionConflictError,
  LiveConfigService,
  OnConfigChange,
  RedisCoordinationModule,
  type ConfigChange,
  type LiveConfigOptions,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

interface Flags {
  checkout: boolean;
}

@Injectable()
class FlagListener {
  readonly seen: Array<[unknown, ConfigChange]> = [];

  @OnConfigChange('flags')
  onFlags(value: unknown, change: ConfigChange) {
    this.seen.push([value, change]);
  }
}

/** Fails the test after `ms` instead of letting it hang until jest's timeout. */
const bounded = <T>(what: string, work: Promise<T>, ms = 10_000) =>
  within(work, ms, () => new Error(`${what}: not within ${ms} ms`));

describe('LiveConfigService', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  /** Two app instances on one key prefix, as two processes behind a load balancer would be. */
  async function instances(
    options: LiveConfigOptions = { keys: ['flags'] },
    count = 2,
    keyPrefix = uniqueKeyPrefix(),
  ) {
    return Promise.all(
      Array.from({ length: count }, async () => {
        const moduleRef = await startModule(
          [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix, liveConfig: options })],
          { providers: [FlagListener] },
        );
        return {
          config: moduleRef.get(LiveConfigService),
          listener: moduleRef.get(FlagListener),
          connections: moduleRef.get(RedisConnections),
          keyPrefix,
        };
      }),
    );
  }

  it('loads listed keys before the app serves and shows a set() on every instance', async () => {
    const [a, b] = await instances();
    assert.deepEqual(a!.config.entry('flags'), { value: undefined, version: 0 });
    assert.equal(await a!.config.set('flags', { checkout: true }), 1);
    assert.deepEqual(a!.config.get<Flags>('flags'), { checkout: true }, 'the writer at once');
    await bounded(
      'b sees version 1',
      waitUntil(() => b!.config.entry('flags').version === 1),
    );
    assert.deepEqual(b!.config.get<Flags>('flags'), { checkout: true });

    // A third instance starting now loads the current value before it serves.
    const [c] = await instances({ keys: ['flags'] }, 1, a!.keyPrefix);
    assert.deepEqual(c!.config.entry('flags'), { value: { checkout: true }, version: 1 });
  });

  it('compare-and-set: exactly one of concurrent writers at a version wins', async () => {
    const [a, b] = await instances();
    await a!.config.set('flags', { checkout: false });
    const writers = Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? a! : b!).config.set('flags', { checkout: i % 3 === 0 }, { expectVersion: 1 }),
    );
    const outcomes = await Promise.allSettled(writers);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      const error = (outcome as PromiseRejectedResult).reason as ConfigVersionConflictError;
      assert.ok(error instanceof ConfigVersionConflictError, String(error));
      assert.equal(error.currentVersion, 2);
    }
    await assert.rejects(a!.config.set('flags', 1, { expectVersion: 0 }), /is at version 2, not 0/);
  });

  it('validate refuses a value at set() and never applies one written around the library', async () => {
    const validate = (_key: string, value: unknown) =>
      typeof (value as Flags)?.checkout === 'boolean' || 'checkout must be a boolean';
    const [a, b] = await instances({ keys: ['flags'], validate });
    await a!.config.set('flags', { checkout: true });
    await assert.rejects(
      a!.config.set('flags', { checkout: 'yes' }),
      (error) =>
        error instanceof ConfigValidationError && /checkout must be a boolean/.test(error.message),
    );
    // Written as the library would, but not checked: b keeps the last good value.
    const key = `${a!.keyPrefix}{config:flags}`;
    await redis.client.hset(key, 'version', 2, 'value', '{"checkout":"yes"}');
    await redis.client.publish(`${key}:changed`, '2:{"checkout":"yes"}');
    await a!.config.set('flags', { checkout: false }, { expectVersion: 2 });
    await bounded(
      'b sees version 3',
      waitUntil(() => b!.config.entry('flags').version === 3),
    );
    assert.deepEqual(
      b!.listener.seen.map(([value]) => value),
      [{ checkout: true }, { checkout: false }],
      'the refused version 2 never reached the instance',
    );
  });

  it('needs a key loaded for get(); load() adds one at run time', async () => {
    const [a] = await instances({}, 1);
    assert.throws(() => a!.config.get('other'), ConfigNotLoadedError);
    await a!.config.set('other', 'x');
    await a!.config.load('other');
    assert.equal(a!.config.get('other'), 'x');
  });

  it('observe() emits the current value, then each change with the previous one', async () => {
    const [a, b] = await instances();
    await a!.config.set('flags', { checkout: false });
    await bounded(
      'b sees version 1',
      waitUntil(() => b!.config.entry('flags').version === 1),
    );
    const emitted = firstValueFrom(b!.config.observe<Flags>('flags').pipe(take(2), toArray()));
    await new Promise((resolve) => setImmediate(resolve));
    await a!.config.set('flags', { checkout: true });
    assert.deepEqual(await bounded('two emissions', emitted), [
      { key: 'flags', value: { checkout: false }, version: 1, previous: undefined },
      { key: 'flags', value: { checkout: true }, version: 2, previous: { checkout: false } },
    ]);
  });

  it('@OnConfigChange methods are called with the value and the change', async () => {
    const [a, b] = await instances({});
    await a!.config.set('flags', { checkout: true });
    await bounded(
      'b heard it',
      waitUntil(() => b!.listener.seen.length === 1),
    );
    assert.deepEqual(b!.listener.seen[0], [
      { checkout: true },
      { key: 'flags', value: { checkout: true }, version: 1, previous: undefined },
    ]);
  });

  it('keeps no stale value after its subscriber connection was lost while values changed', async () => {
    const [a, b] = await instances();
    await a!.config.set('flags', { checkout: false });
    await bounded(
      'b sees version 1',
      waitUntil(() => b!.config.entry('flags').version === 1),
    );
    const hub = await b!.connections.subscriptions();
    const subscriber = (hub as unknown as { client: { call(...args: string[]): Promise<unknown> } })
      .client;
    const id = String(await subscriber.call('CLIENT', 'ID'));
    await redis.client.call('CLIENT', 'KILL', 'ID', id);
    // Announced while b's subscriber reconnects (ioredis waits before retrying): b misses it.
    await a!.config.set('flags', { checkout: true });
    await bounded(
      'b reads the missed version after reconnecting',
      waitUntil(() => b!.config.entry('flags').version === 2),
    );
    assert.deepEqual(b!.config.get('flags'), { checkout: true });
  });
});
