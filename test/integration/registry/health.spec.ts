import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import {
  InvalidArgumentError,
  InvalidOptionsError,
  NoInstanceAvailableError,
  RedisCoordinationModule,
  ServiceRegistry,
  type ServiceInstance,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { RegistryStore } from '../../../lib/registry/registry.store.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

/** Heartbeats every 500 ms, each check bounded to 250 ms. */
const TTL_MS = 1500;
/** What a failing indicator says: it must never reach a log. */
const SECRET = 'postgres://shop:hunter2@db:5432';

/** Bounded only so that a view that never changes fails the test instead of hanging it. */
function viewWhere(
  view: Observable<ServiceInstance[]>,
  what: string,
  test: (ids: string[]) => boolean,
) {
  return within(
    firstValueFrom(view.pipe(filter((list) => test(list.map((i) => i.id))))),
    30_000,
    () => new Error(`no view where ${what} within 30 s`),
  );
}

describe('ServiceRegistry health checks', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  it('publishes an instance whose terminus check fails as down: the others skip it until it passes again', async () => {
    const prefix = uniqueKeyPrefix();
    const database = { up: true };
    const logger = new CapturingLogger();
    const checked = await startModule(
      [
        RedisCoordinationModule.forRootAsync({
          imports: [TerminusModule.forRoot({ logger: false })],
          inject: [HealthCheckService, HealthIndicatorService],
          useFactory: (health: HealthCheckService, indicators: HealthIndicatorService) => ({
            url: redis.url,
            keyPrefix: prefix,
            registry: {
              service: 'billing',
              address: 'http://10.0.0.1:3000',
              ttlMs: TTL_MS,
              healthCheck: () =>
                health.check([
                  () => {
                    const db = indicators.check('database');
                    return database.up ? db.up() : db.down({ message: `${SECRET} refused` });
                  },
                ]),
            },
          }),
        }),
      ],
      { logger },
    );
    const checkedId = checked.get(ServiceRegistry).instanceId;
    // Nest's Logger is process-wide: every module of the test logs to the one capturing logger.
    const healthy = await startModule(
      [
        RedisCoordinationModule.forRoot({
          url: redis.url,
          keyPrefix: prefix,
          registry: { service: 'billing', address: 'http://10.0.0.2:3000', ttlMs: TTL_MS },
        }),
      ],
      { logger },
    );
    const healthyId = healthy.get(ServiceRegistry).instanceId;
    const client = (
      await startModule([RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix })], {
        logger,
      })
    ).get(ServiceRegistry);
    const view = client.observe('billing');
    await viewWhere(view, 'both are listed', (ids) => ids.length === 2);

    database.up = false;
    await viewWhere(view, 'the unhealthy one is gone', (ids) => !ids.includes(checkedId));
    assert.deepEqual(
      (await client.instances('billing')).map((i) => i.id),
      [healthyId],
    );
    assert.deepEqual(
      (await client.instances('billing', { includeDown: true }))
        .map(({ id, status }) => ({ id, status }))
        .sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: checkedId, status: 'down' },
        { id: healthyId, status: 'up' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
    for (let i = 0; i < 3; i++) assert.equal((await client.pick('billing')).id, healthyId);
    client.markDown({ id: healthyId }, 60_000);
    await assert.rejects(client.pick('billing'), (error) => {
      assert.ok(error instanceof NoInstanceAvailableError);
      assert.match(error.message, /All 2 live instance\(s\) .* report themselves unhealthy/);
      return true;
    });

    database.up = true;
    await viewWhere(view, 'it is back', (ids) => ids.includes(checkedId));
    const back = await client.instances('billing');
    assert.equal(back.find((i) => i.id === checkedId)?.status, 'up');

    const said = logger.lines.filter((line) => /unhealthy|healthy again/.test(line));
    assert.equal(said.length, 2, said.join('\n'));
    assert.match(said[0]!, /is unhealthy \(its health check threw ServiceUnavailableException\)/);
    assert.match(said[1]!, /is healthy again: published as up/);
    assert.ok(!logger.lines.some((line) => line.includes('hunter2')), logger.lines.join('\n'));
  });

  it('counts a check that resolves false, throws or never settles as unhealthy, and anything else as healthy', async () => {
    const answers: Record<string, () => unknown> = {
      false: () => false,
      throws: () => {
        throw new Error(SECRET);
      },
      rejects: () => Promise.reject(new TypeError(SECRET)),
      hangs: () => new Promise(() => {}),
      undefined: () => undefined,
      degraded: async () => ({ status: 'degraded' }),
    };
    const prefix = uniqueKeyPrefix();
    const logger = new CapturingLogger();
    const ids: Record<string, string> = {};
    for (const [name, healthCheck] of Object.entries(answers)) {
      const moduleRef = await startModule(
        [
          RedisCoordinationModule.forRoot({
            url: redis.url,
            keyPrefix: prefix,
            registry: { service: 'billing', address: `http://${name}`, ttlMs: TTL_MS, healthCheck },
          }),
        ],
        { logger },
      );
      ids[name] = moduleRef.get(ServiceRegistry).instanceId;
    }
    const listed = await startModule(
      [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix })],
      { logger },
    );
    const statuses = Object.fromEntries(
      (await listed.get(ServiceRegistry).instances('billing', { includeDown: true })).map(
        (instance) => [instance.address.slice('http://'.length), instance.status],
      ),
    );
    assert.deepEqual(statuses, {
      false: 'down',
      throws: 'down',
      rejects: 'down',
      hangs: 'down',
      undefined: 'up',
      degraded: 'up',
    });
    const reasons = logger.lines.filter((line) => /is unhealthy/.test(line));
    assert.equal(reasons.length, 4, reasons.join('\n'));
    for (const [name, reason] of [
      ['false', 'answered false'],
      ['throws', 'threw Error'],
      ['rejects', 'threw TypeError'],
      ['hangs', `did not settle within ${TTL_MS / 6} ms`],
    ] as const) {
      assert.ok(
        reasons.some((line) => line.includes(ids[name]!) && line.includes(`check ${reason})`)),
        `${name}: ${reasons.join('\n')}`,
      );
    }
    assert.ok(!logger.lines.some((line) => line.includes('hunter2')), logger.lines.join('\n'));
  });

  it('announces a renewal that changes the record (down, up again), not one that keeps it', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
    ]);
    const store = new RegistryStore(moduleRef.get(RedisConnections));
    let notices = 0;
    let noticed: () => void = () => {};
    const unwatch = await store.watch('billing', () => {
      notices++;
      noticed();
    });
    const notice = () =>
      within(
        new Promise<void>((resolve) => (noticed = resolve)),
        10_000,
        () => new Error(`no notice within 10 s (${notices} so far)`),
      );
    try {
      let next = notice();
      assert.equal(await store.register('billing', 'a', '{"status":"up"}', 10_000), true);
      await next;
      next = notice();
      assert.equal(await store.register('billing', 'a', '{"status":"up"}', 10_000), false);
      assert.equal(await store.register('billing', 'a', '{"status":"down"}', 10_000), false);
      await next;
      // Notices arrive in order: one for the unchanged renewal would have come first.
      assert.equal(notices, 2);
    } finally {
      await unwatch();
    }
  });

  it('refuses a health check that is not a function, and unknown instances() options', async () => {
    await assert.rejects(
      startModule([
        RedisCoordinationModule.forRoot({
          url: redis.url,
          keyPrefix: uniqueKeyPrefix(),
          registry: { service: 'billing', address: 'x', healthCheck: 'yes' as never },
        }),
      ]),
      (error) => {
        assert.ok(error instanceof InvalidOptionsError, String(error));
        assert.match(error.message, /registry\.healthCheck must be a function/);
        return true;
      },
    );
    const registry = (
      await startModule([
        RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
      ])
    ).get(ServiceRegistry);
    await assert.rejects(registry.instances('billing', { includeDowm: true } as never), (error) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /includeDowm.*did you mean "includeDown"/);
      return true;
    });
    await assert.rejects(
      registry.instances('billing', { includeDown: 'yes' as never }),
      InvalidArgumentError,
    );
  });
});
