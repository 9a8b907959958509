import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { firstValueFrom, skip } from 'rxjs';
import {
  InvalidArgumentError,
  InvalidOptionsError,
  NoInstanceAvailableError,
  RedisCoordinationModule,
  ServiceRegistry,
  type RegistryOptions,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { closeModule, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

const bounded = <T>(what: string, work: Promise<T>, ms = 10_000) =>
  within(work, ms, () => new Error(`${what}: not within ${ms} ms`));

describe('ServiceRegistry', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  /** An app instance on `keyPrefix`, registered as `registry` when given. */
  async function instance(keyPrefix: string, registry?: RegistryOptions) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix, registry }),
    ]);
    return { moduleRef, registry: moduleRef.get(ServiceRegistry) };
  }
  const billing = (port: number): RegistryOptions => ({
    service: 'billing',
    address: `http://10.0.0.${port}:3000`,
    metadata: { zone: port % 2 ? 'a' : 'b' },
  });

  it('lists the registered instances with their address and metadata; a closed one at once goes', async () => {
    const prefix = uniqueKeyPrefix();
    const one = await instance(prefix, billing(1));
    const two = await instance(prefix, billing(2));
    const client = await instance(prefix);
    const listed = await client.registry.instances('billing');
    assert.deepEqual(
      listed
        .map(({ id, address, metadata }) => ({ id, address, metadata }))
        .sort((a, b) => a.address.localeCompare(b.address)),
      [
        { id: one.registry.instanceId, address: 'http://10.0.0.1:3000', metadata: { zone: 'a' } },
        { id: two.registry.instanceId, address: 'http://10.0.0.2:3000', metadata: { zone: 'b' } },
      ],
    );
    assert.deepEqual(await client.registry.instances('other'), []);
    await closeModule(one.moduleRef);
    assert.deepEqual(
      (await client.registry.instances('billing')).map((i) => i.id),
      [two.registry.instanceId],
      'deregistered at shutdown, not at the end of its lease',
    );
  });

  it('observe() emits the live list, then each change', async () => {
    const prefix = uniqueKeyPrefix();
    const one = await instance(prefix, billing(1));
    const client = await instance(prefix);
    const views = client.registry.observe('billing');
    assert.deepEqual(
      (await bounded('first view', firstValueFrom(views))).map((i) => i.id),
      [one.registry.instanceId],
    );
    const next = firstValueFrom(views.pipe(skip(1)));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the watch is in place
    const two = await instance(prefix, billing(2));
    assert.deepEqual(
      (await bounded('second view', next)).map((i) => i.id).sort(),
      [one.registry.instanceId, two.registry.instanceId].sort(),
    );
  });

  it('pick() takes turns or chooses at random, skips instances marked down, and says when none is left', async () => {
    const prefix = uniqueKeyPrefix();
    const one = await instance(prefix, billing(1));
    const two = await instance(prefix, billing(2));
    const { registry } = await instance(prefix);
    const turns = [];
    for (let i = 0; i < 4; i++) turns.push((await registry.pick('billing')).id);
    assert.equal(new Set(turns).size, 2);
    assert.notEqual(turns[0], turns[1]);
    assert.equal(turns[0], turns[2]);
    const random = await registry.pick('billing', { strategy: 'random' });
    assert.ok([one.registry.instanceId, two.registry.instanceId].includes(random.id));

    registry.markDown({ id: one.registry.instanceId }, 60_000);
    for (let i = 0; i < 3; i++) {
      assert.equal((await registry.pick('billing')).id, two.registry.instanceId);
    }
    registry.markDown({ id: two.registry.instanceId }, 60_000);
    await assert.rejects(registry.pick('billing'), (error) => {
      assert.ok(error instanceof NoInstanceAvailableError);
      assert.match(error.message, /All 2 live instance\(s\) of service "billing" are marked down/);
      return true;
    });
    await assert.rejects(registry.pick('nobody'), /No live instance of service "nobody"/);
  });

  it('takes the address from the HTTP server it listens on; without one it must be given', async () => {
    await assert.rejects(instance(uniqueKeyPrefix(), { service: 'billing' }), (error) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /registry\.address .*no HTTP server listening/);
      return true;
    });
  });

  it('refuses bad registry options at start, listing each', async () => {
    await assert.rejects(
      instance(uniqueKeyPrefix(), { service: '', address: 'x', ttlMs: 10, adress: 'y' } as never),
      (error) => {
        assert.ok(error instanceof InvalidOptionsError, String(error));
        assert.match(error.message, /registry\.adress .*did you mean "address"/);
        return true;
      },
    );
    await assert.rejects(
      instance(uniqueKeyPrefix(), { service: '', address: 'x', ttlMs: 10 }),
      (error) => {
        assert.ok(error instanceof InvalidOptionsError, String(error));
        assert.match(error.message, /service name/);
        assert.match(error.message, /ttlMs/);
        return true;
      },
    );
  });
});
