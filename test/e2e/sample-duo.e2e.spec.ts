import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../sample/app.module.js';
import { runDuoScenario } from '../../sample/duo-scenario.js';
import { startTestRedis, uniqueKeyPrefix, type TestRedis } from '../support/redis.js';
import { startTestZooKeeper, type TestZooKeeper } from '../support/zookeeper.js';
import { zooKeeperAvailable } from '../../lib/testing/index.js';
// The sample's own copy of the library (by package name), whose services the apps hold.
import { RedisLockService } from 'nestjs-redis-coordination';

/**
 * Two instances of the sample app in this process, each with its own connections, sharing one
 * real Redis: the oversell scenario, cache eviction across instances, rate limit across
 * instances, each confirmation job and each billing record once, live settings, the registry,
 * one leader running the sweeper, the invoice semaphore's limit across instances, health.
 * Where ZooKeeper can run (always on CI), the lock, leader, semaphore, settings and registry
 * live in ZooKeeper, as with `ZOOKEEPER=1 npm run sample:duo`.
 */
interface ProductView {
  product: { id: string; stock: number };
  cache: 'hit' | 'miss';
  loadedAt: string;
}

async function getJson<T>(url: string): Promise<T> {
  return (await fetch(url)).json() as Promise<T>;
}

describe('sample app, two instances', () => {
  let redis: TestRedis;
  let zookeeper: TestZooKeeper | undefined;
  const apps: INestApplication[] = [];
  const baseUrls: string[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    process.env.REDIS_URL = redis.url;
    process.env.KEY_PREFIX = uniqueKeyPrefix();
    process.env.DB_LATENCY_MS = '5';
    if (process.env.CI || zooKeeperAvailable()) {
      zookeeper = await startTestZooKeeper();
      process.env.ZOOKEEPER_CONNECT = zookeeper.connectString;
    }
    for (const name of ['e2e-a', 'e2e-b']) {
      process.env.INSTANCE_NAME = name;
      const app = await NestFactory.create(AppModule, { logger: ['error'] });
      await app.listen(0, '127.0.0.1');
      apps.push(app);
      baseUrls.push(await app.getUrl());
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    delete process.env.ZOOKEEPER_CONNECT;
    await zookeeper?.dispose();
    await redis.dispose();
  });

  it('serves a cache miss, then hits on both instances', async () => {
    const first = await getJson<ProductView>(`${baseUrls[0]}/products/chair`);
    const second = await getJson<ProductView>(`${baseUrls[1]}/products/chair`);
    assert.equal(first.product.id, 'chair');
    assert.equal(first.cache, 'miss');
    assert.equal(second.cache, 'hit', 'the other instance reads the shared entry');
    assert.equal(second.loadedAt, first.loadedAt);
  });

  it('passes every check of the duo scenario', async () => {
    // Where the sample's locks live: a lock taken with the module's default shows there.
    const locks = apps[0]!.get(RedisLockService);
    const probe = await locks.acquire('backend-probe');
    const backend = zookeeper ? 'zookeeper' : 'redis';
    assert.equal(await locks.isLocked('backend-probe', { backend }), true, `locks on ${backend}`);
    await probe.release();
    const checks = await runDuoScenario(baseUrls);
    const failed = checks.filter((c) => !c.ok);
    assert.deepEqual(failed, [], failed.map((c) => `${c.name}: ${c.detail}`).join('\n'));
    assert.ok(checks.length >= 15);
    // Where the settings the scenario changed are kept: with ZooKeeper, Redis holds their cache.
    const settings = `${process.env.KEY_PREFIX}{config:shop-settings}`;
    assert.equal(
      await redis.client.hget(settings, 'record'),
      zookeeper ? 'zookeeper' : null,
      `settings kept on ${backend}`,
    );
  });

  it('sends an order that always fails to the dead-letter list after its attempts', async () => {
    const placed = await fetch(`${baseUrls[0]}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-client-id': 'unlucky' },
      body: JSON.stringify({ productId: 'mug', quantity: 13 }),
    });
    assert.equal(placed.status, 201);
    for (;;) {
      const stats = await getJson<{ confirmations: { dead: number } }>(`${baseUrls[1]}/stats`);
      if (stats.confirmations.dead >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
