import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Controller, Get, Injectable, type INestApplication, Param } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  currentLock,
  LockBusyError,
  LockTimeoutError,
  RedisCoordinationModule,
  RedisLockService,
  WithLock,
} from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

@Injectable()
class Jobs {
  runs = 0;
  browsing = 0;

  @Cron('0 * * * *')
  @WithLock('report', { onBusy: 'skip', ttlMs: 1000 })
  async hourly(): Promise<string> {
    this.runs++;
    return 'ran';
  }

  @WithLock('report', { onBusy: 'throw' })
  @Cron('30 * * * *')
  async strict(): Promise<string> {
    return 'ran';
  }

  @WithLock((id: string) => `order:${id}`, { waitMs: 100 })
  async pay(id: string, amount: number): Promise<{ resource?: string; amount: number }> {
    const lock = currentLock();
    assert.equal(lock?.signal.aborted, false);
    return { resource: lock?.resources[0], amount: await this.refund(id, amount) };
  }

  /** Readers of the catalogue run side by side; `publish` waits for them and keeps them out. */
  @WithLock('catalogue', { mode: 'read', onBusy: 'throw' })
  async browse(untilReleased: Promise<void>): Promise<string> {
    this.browsing++;
    await untilReleased;
    return currentLock()!.mode;
  }

  @WithLock('catalogue', { onBusy: 'throw' })
  async publish(): Promise<string> {
    return currentLock()!.mode;
  }

  /** Called from pay(): reenters the same lock instead of deadlocking. */
  @WithLock((id: string) => `order:${id}`, { waitMs: 0 })
  async refund(_id: string, amount: number): Promise<number> {
    return -amount;
  }
}

@Controller('orders')
class OrdersController {
  @Get(':id/before')
  @WithLock((id: string) => `order:${id}`, { onBusy: 'throw' })
  before(@Param('id') id: string) {
    return { id };
  }

  @WithLock((id: string) => `order:${id}`, { waitMs: 50 })
  @Get(':id/after')
  after(@Param('id') id: string) {
    return { id };
  }
}

class TypedKeys {
  // @ts-expect-error the key function reads a string, the method's first parameter is a number
  @WithLock((id: string) => id)
  async byNumber(n: number) {
    return n;
  }
}
void TypedKeys;

describe('@WithLock', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function start(keyPrefix = uniqueKeyPrefix()) {
    const moduleRef = await startModule(
      [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix })],
      { providers: [Jobs] },
    );
    return { jobs: moduleRef.get(Jobs), locks: moduleRef.get(RedisLockService), keyPrefix };
  }

  it('applies onBusy: skip, throw and wait', async () => {
    const { jobs, locks } = await start();
    assert.equal(await jobs.hourly(), 'ran');
    const held = await locks.acquire(['report', 'order:1']);
    assert.equal(await jobs.hourly(), undefined);
    assert.equal(jobs.runs, 1, 'skipped without running');
    await assert.rejects(
      jobs.strict(),
      (e) => e instanceof LockBusyError && e.code === 'LOCK_BUSY',
    );
    await assert.rejects(jobs.pay('1', 5), LockTimeoutError);
    await held.release();
    assert.equal(await jobs.strict(), 'ran');
  });

  it('types the key from the arguments, exposes currentLock() and reenters', async () => {
    const { jobs, locks } = await start();
    assert.deepEqual(await jobs.pay('7', 5), { resource: 'order:7', amount: -5 });
    assert.equal(await locks.isLocked('order:7'), false);
  });

  it('takes a read lock with mode: read, shared by readers and exclusive of writers', async () => {
    const { jobs } = await start();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const readers = [jobs.browse(released), jobs.browse(released)];
    await Promise.race([waitUntil(() => jobs.browsing === 2), ...readers]);
    await assert.rejects(jobs.publish(), LockBusyError);
    release();
    assert.deepEqual(await Promise.all(readers), ['read', 'read']);
    assert.equal(await jobs.publish(), 'write');
  });

  it('keeps other decorators’ metadata in either order', () => {
    for (const method of [Jobs.prototype.hourly, Jobs.prototype.strict]) {
      assert.ok(
        Reflect.getMetadataKeys(method).some((key) => String(key).includes('SCHEDULE')),
        `cron metadata on ${method.name}`,
      );
    }
  });

  it('keeps two apps in one process apart', async () => {
    const a = await start();
    const b = await start();
    const held = await a.locks.acquire('report');
    await assert.rejects(a.jobs.strict(), LockBusyError);
    assert.equal(await b.jobs.strict(), 'ran', 'app b has its own Redis keys');
    await held.release();
  });

  describe('in an HTTP controller', () => {
    const logger = new CapturingLogger();
    let app: INestApplication;
    let locks: RedisLockService;
    beforeAll(async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
        ],
        controllers: [OrdersController],
      }).compile();
      app = moduleRef.createNestApplication({ logger });
      await app.init();
      locks = app.get(RedisLockService);
    });
    afterAll(() => app.close());

    for (const order of ['before', 'after']) {
      it(`answers 409 Conflict while busy, 200 once free (@WithLock ${order} @Get)`, async () => {
        const held = await locks.acquire('order:9');
        const busy = await request(app.getHttpServer()).get(`/orders/9/${order}`);
        assert.equal(busy.status, 409, JSON.stringify(busy.body));
        assert.match(String(busy.body.message), /order:9/);
        // A busy lock is an expected conflict, not a server error: nothing is logged for it.
        assert.deepEqual(
          logger.lines.filter((line) => /order:9|LockBusyError/.test(line)),
          [],
        );
        await held.release();
        const free = await request(app.getHttpServer()).get(`/orders/9/${order}`);
        assert.equal(free.status, 200);
        assert.deepEqual(free.body, { id: '9' });
      });
    }
  });
});
