import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from '@jest/globals';
import { filter, firstValueFrom } from 'rxjs';
import { RedisCoordinationModule, ServiceRegistry } from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';

const TTL_MS = 1500;

describe('a registered instance that is SIGKILLed', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  it('drops out of every view when its lease ends, though it never deregistered', async () => {
    const prefix = uniqueKeyPrefix();
    const env = { REDIS_URL: redis.url, PREFIX: prefix, TTL_MS: String(TTL_MS) };
    const children = [
      spawnChild('registry-instance', { env }),
      spawnChild('registry-instance', { env }),
    ];
    const ids = await Promise.all(
      children.map(
        async (child) => ((await child.waitFor('registered')) as unknown as { id: string }).id,
      ),
    );
    const observers = await Promise.all(
      [0, 1].map(async () =>
        (
          await startModule([
            RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix }),
          ])
        ).get(ServiceRegistry),
      ),
    );
    const views = observers.map((registry) => registry.observe('billing'));
    await Promise.all(
      views.map((view) => firstValueFrom(view.pipe(filter((list) => list.length === 2)))),
    );

    children[0]!.signal('SIGKILL');
    const killedAt = performance.now();
    // Bounded only so that a lease that never ends fails the test instead of hanging it.
    const gone = await within(
      Promise.all(
        views.map((view) =>
          firstValueFrom(view.pipe(filter((list) => !list.some((i) => i.id === ids[0])))),
        ),
      ),
      60_000,
      () => new Error('the killed instance is still listed after 60 s'),
    );
    const tookMs = performance.now() - killedAt;
    for (const list of gone)
      assert.deepEqual(
        list.map((i) => i.id),
        [ids[1]],
      );
    // For the record (a figure, not a budget: the machine may be busy): lease + one refresh.
    console.log(
      `a SIGKILLed instance left every view after ${Math.round(tookMs)} ms (ttlMs ${TTL_MS})`,
    );
  });
});
