import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Controller, Get, Injectable, type INestApplication, Param } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  currentPermit,
  Permit,
  RedisCoordinationModule,
  SemaphoreBusyError,
  SemaphoreService,
  SemaphoreTimeoutError,
  WithSemaphore,
} from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

@Injectable()
class Renderer {
  runs = 0;

  @Cron('0 * * * *')
  @WithSemaphore('render', { limit: 1, onBusy: 'skip', ttlMs: 1000 })
  async sweep(): Promise<string> {
    this.runs++;
    return 'ran';
  }

  @WithSemaphore('render', { limit: 1, onBusy: 'throw' })
  @Cron('30 * * * *')
  async strict(): Promise<string> {
    return 'ran';
  }

  @WithSemaphore('render', { limit: 1, waitMs: 100 })
  async patient(): Promise<string> {
    return 'ran';
  }

  @WithSemaphore((tenant: string) => `export:${tenant}`, { limit: 2 })
  async exportFor(tenant: string, rows: number): Promise<string> {
    return `${tenant}:${rows}`;
  }

  /** The permits `currentPermit()` gives: after an await, inside a nested `using()`, after it. */
  @WithSemaphore('outer', { limit: 1 })
  async permitsSeen(semaphores: SemaphoreService): Promise<(Permit | undefined)[]> {
    await sleep(1);
    const first = currentPermit();
    const inner = await semaphores.using('inner', { limit: 1 }, async (_signal, permit) => {
      await sleep(1);
      return [currentPermit(), permit];
    });
    return [first, ...inner, currentPermit()];
  }

  @WithSemaphore((tenant: string) => `report:${tenant}`, { limit: 1 })
  async reportFor(_tenant: string): Promise<string | undefined> {
    await sleep(5);
    return currentPermit()?.semaphore;
  }
}

@Controller('render')
class RenderController {
  @Get(':id/before')
  @WithSemaphore('http-render', { limit: 1, onBusy: 'throw' })
  before(@Param('id') id: string) {
    return { id };
  }

  @WithSemaphore('http-render', { limit: 1, waitMs: 50 })
  @Get(':id/after')
  after(@Param('id') id: string) {
    return { id };
  }
}

class TypedNames {
  // @ts-expect-error the name function reads a string, the method's first parameter is a number
  @WithSemaphore((id: string) => id, { limit: 1 })
  async byNumber(n: number) {
    return n;
  }
}
void TypedNames;

describe('@WithSemaphore', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function start(keyPrefix = uniqueKeyPrefix()) {
    const moduleRef = await startModule(
      [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix })],
      { providers: [Renderer] },
    );
    return { renderer: moduleRef.get(Renderer), semaphores: moduleRef.get(SemaphoreService) };
  }

  it('applies onBusy: skip, throw and wait', async () => {
    const { renderer, semaphores } = await start();
    assert.equal(await renderer.sweep(), 'ran');
    const held = await semaphores.acquire('render', { limit: 1 });
    assert.equal(await renderer.sweep(), undefined);
    assert.equal(renderer.runs, 1, 'skipped without running');
    await assert.rejects(
      renderer.strict(),
      (e) =>
        e instanceof SemaphoreBusyError &&
        !(e instanceof SemaphoreTimeoutError) &&
        e.code === 'SEMAPHORE_BUSY' &&
        /"render" has no free permit \(limit 1\)/.test(e.message),
    );
    await assert.rejects(renderer.patient(), SemaphoreTimeoutError);
    await held.release();
    assert.equal(await renderer.strict(), 'ran');
    assert.equal(await renderer.patient(), 'ran');
    assert.equal(await semaphores.available('render', { limit: 1 }), 1, 'each call released');
  });

  it('names the semaphore from the arguments', async () => {
    const { renderer, semaphores } = await start();
    const held = await semaphores.acquire('export:acme', { limit: 2 });
    assert.equal(await renderer.exportFor('acme', 3), 'acme:3');
    assert.equal(await semaphores.available('export:acme', { limit: 2 }), 1);
    await held.release();
  });

  it('gives the held permit to the method and to using() callbacks through currentPermit()', async () => {
    const { renderer, semaphores } = await start();
    assert.equal(currentPermit(), undefined, 'none outside');
    const [outer, inner, innerGiven, outerAgain] = await renderer.permitsSeen(semaphores);
    assert.ok(outer instanceof Permit);
    assert.equal(outer.semaphore, 'outer');
    assert.ok(outer.signal instanceof AbortSignal);
    assert.equal(inner, innerGiven, 'using() gives its callback the same permit');
    assert.equal(inner?.semaphore, 'inner', 'the innermost permit inside a nested using()');
    assert.equal(outerAgain, outer, 'the outer permit again after the nested using()');
    assert.equal(outer.lost, false);
    assert.equal(currentPermit(), undefined, 'none after the method');
  });

  it('gives each of two concurrent calls its own permit', async () => {
    const { renderer } = await start();
    const seen = await Promise.all([renderer.reportFor('a'), renderer.reportFor('b')]);
    assert.deepEqual(seen, ['report:a', 'report:b']);
  });

  it('keeps other decorators’ metadata in either order', () => {
    for (const method of [Renderer.prototype.sweep, Renderer.prototype.strict]) {
      assert.ok(
        Reflect.getMetadataKeys(method).some((key) => String(key).includes('SCHEDULE')),
        `cron metadata on ${method.name}`,
      );
    }
  });

  it('keeps two apps in one process apart', async () => {
    const a = await start();
    const b = await start();
    const held = await a.semaphores.acquire('render', { limit: 1 });
    await assert.rejects(a.renderer.strict(), SemaphoreBusyError);
    assert.equal(await b.renderer.strict(), 'ran', 'app b has its own Redis keys');
    await held.release();
  });

  describe('in an HTTP controller', () => {
    const logger = new CapturingLogger();
    let app: INestApplication;
    let semaphores: SemaphoreService;
    beforeAll(async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
        ],
        controllers: [RenderController],
      }).compile();
      app = moduleRef.createNestApplication({ logger });
      await app.init();
      semaphores = app.get(SemaphoreService);
    });
    afterAll(() => app.close());

    for (const order of ['before', 'after']) {
      it(`answers 409 Conflict while busy, 200 once free (@WithSemaphore ${order} @Get)`, async () => {
        const held = await semaphores.acquire('http-render', { limit: 1 });
        const busy = await request(app.getHttpServer()).get(`/render/9/${order}`);
        assert.equal(busy.status, 409, JSON.stringify(busy.body));
        assert.match(String(busy.body.message), /http-render/);
        // No free permit is an expected conflict, not a server error: nothing is logged for it.
        assert.deepEqual(
          logger.lines.filter((line) => /http-render|Semaphore(Busy|Timeout)Error/.test(line)),
          [],
        );
        await held.release();
        const free = await request(app.getHttpServer()).get(`/render/9/${order}`);
        assert.equal(free.status, 200);
        assert.deepEqual(free.body, { id: '9' });
      });
    }
  });
});
