import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { ChildApp } from '../../support/child-process.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { useChildApps, useTestRedis } from '../../support/hooks.js';

/** Stampede protection across real processes, each with its own app and connections. */
describe('@Cached stampede protection across processes', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();

  async function spawn(count: number, env: Record<string, string>) {
    const children = Array.from({ length: count }, () =>
      spawnChild('cache-worker', { env: { REDIS_URL: redis.url, ...env } }),
    );
    await Promise.all(children.map((child) => child.waitFor('ready')));
    return children;
  }

  it('4 processes x 25 concurrent calls on a cold key run the method once', async () => {
    const prefix = uniqueKeyPrefix();
    // A long lease: waiters that were not woken by the fill notification would sit it out.
    const leaseMs = 60_000;
    const children = await spawn(4, {
      PREFIX: prefix,
      COMPUTE_MS: '500',
      LEASE_MS: String(leaseMs),
    });
    const started = Date.now();
    for (const child of children) child.send({ type: 'call', concurrency: 25 });
    const reports = await Promise.all(children.map((child) => child.waitFor('results')));
    assert.ok(Date.now() - started < leaseMs, 'waiters were notified, not left to the lease bound');
    assert.equal(await redis.client.get(`${prefix}test:runs`), '1');
    const builders = new Set(reports.flatMap((report) => report.builtBy as number[]));
    assert.equal(builders.size, 1, 'every caller got the one computed value');
    assert.ok(reports.every((report) => report.datesRevived));
    assert.equal(reports.flatMap((report) => report.builtBy as number[]).length, 100);
  });

  it('waiters compute themselves once the lease of a killed holder ends', async () => {
    const prefix = uniqueKeyPrefix();
    const [holder, waiter] = (await spawn(2, {
      PREFIX: prefix,
      COMPUTE_MS: '60000',
      LEASE_MS: '1500',
    })) as [ChildApp, ChildApp];
    holder.send({ type: 'call', concurrency: 1 });
    await holder.waitFor('computing');
    await holder.kill();
    const leaseLeftMs = await redis.client.pttl(`${prefix}{cache:reports}:l:daily`);
    assert.ok(leaseLeftMs > 0, 'the dead holder still holds the lease');
    const started = Date.now();
    // The waiter now finds the lease held by a dead process and must not wait forever.
    waiter.send({ type: 'call', concurrency: 3 });
    await waiter.waitFor('computing');
    // Redis expires keys with ~1 ms precision: allow that much.
    assert.ok(Date.now() - started >= leaseLeftMs - 5, 'it waited for the lease to end');
    assert.equal(await redis.client.get(`${prefix}test:runs`), '2');
  });
});
