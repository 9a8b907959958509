import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import request from 'supertest';
import { RedisCoordinationModule, RedisThrottlerStorage } from '../../../lib/index.js';
import { uniquePrefix } from '../../support/redis.js';
import { useTestRedis } from '../../support/hooks.js';

@Controller('ping')
class PingController {
  @Get()
  ping() {
    return 'pong';
  }
}

/** The adapter plugged into a real ThrottlerModule guard, shared by two app instances. */
describe('RedisThrottlerStorage with @nestjs/throttler', () => {
  const apps: INestApplication[] = [];
  const redis = useTestRedis();
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function startApp(prefix: string): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix, isGlobal: true }),
        ThrottlerModule.forRootAsync({
          inject: [RedisThrottlerStorage],
          useFactory: (storage: RedisThrottlerStorage) => ({
            throttlers: [{ ttl: 60_000, limit: 3 }],
            storage,
          }),
        }),
      ],
      controllers: [PingController],
      providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  }

  it('limits requests across two instances to one shared budget', async () => {
    const prefix = uniquePrefix();
    const [a, b] = [await startApp(prefix), await startApp(prefix)];
    const statuses: number[] = [];
    for (const app of [a, b, a, b, a]) {
      const response = await request(app.getHttpServer()).get('/ping');
      statuses.push(response.status);
      if (response.status === 200) assert.equal(response.text, 'pong');
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const denied = await request(b.getHttpServer()).get('/ping');
    assert.equal(denied.status, 429);
    assert.ok(Number(denied.headers['retry-after']) > 0, 'Retry-After set from the block');
  });
});
