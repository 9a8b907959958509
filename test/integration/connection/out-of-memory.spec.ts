import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { afterAll, beforeAll, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  CacheService,
  CounterService,
  LeaderElectionService,
  LiveConfigService,
  PubSubService,
  QueueService,
  RedisCommandError,
  RedisCoordinationModule,
  RedisLockService,
  RedisOutOfMemoryError,
  SemaphoreService,
} from '../../../lib/index.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, keysUnder, uniqueKeyPrefix } from '../../support/redis.js';

/** What a script's plumbing looks like in a reply: its SHA, its `f_<sha>` name, its line. */
const SCRIPT_PLUMBING = /user_script|f_[0-9a-f]{40}|[0-9a-f]{40}/;

/**
 * A Redis with `maxmemory` reached under `noeviction` refuses writes with `OOM command not
 * allowed …`, in scripts with their SHA and line attached. Every capability's write must fail with
 * the library's RedisOutOfMemoryError, carrying Redis' reply without the script plumbing, and
 * leave nothing half-written; once memory is freed, the same calls succeed.
 */
describeWithRedisServer('a Redis out of memory', () => {
  const server = useRedisServer({
    args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'],
  });
  closeModulesAfterEach();
  let raw: Redis;
  beforeAll(async () => {
    raw = new Redis(server.url, { lazyConnect: true, disconnectTimeout: 0 });
    await raw.connect();
  });
  afterAll(() => raw.disconnect());

  /** Everything under `prefix`, value by value, to show that a refused call wrote nothing. */
  async function snapshot(prefix: string): Promise<Map<string, string>> {
    const keys = await keysUnder(raw, prefix);
    const dumps = await Promise.all(keys.map((key) => raw.dumpBuffer(key)));
    return new Map(keys.map((key, i) => [key, dumps[i]?.toString('hex') ?? '(gone)']));
  }

  it('refuses every write with RedisOutOfMemoryError, writes nothing, and works again once memory is freed', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: server.url, keyPrefix }),
    ]);
    const queue = moduleRef.get(QueueService);
    const locks = moduleRef.get(RedisLockService);
    const semaphores = moduleRef.get(SemaphoreService);
    const counters = moduleRef.get(CounterService);
    const cache = moduleRef.get(CacheService);
    const pubsub = moduleRef.get(PubSubService);
    const config = moduleRef.get(LiveConfigService);
    const elections = moduleRef.get(LeaderElectionService);
    // State the writes below add to, so a half-applied one would show.
    await queue.add('q', { n: 0 });
    await counters.increment('c');
    await pubsub.publish('durable', 'first', { durable: true });
    await config.set('flags', { on: false });

    // Not `counters.hit()`: its script's first write trims the window (ZREMRANGEBYSCORE), which
    // Redis runs on a full server, and Redis 7 then lets the script finish past maxmemory.
    const writes: Record<string, () => Promise<unknown>> = {
      'queue.add': () => queue.add('q', { n: 1 }),
      'queue.addBulk': () => queue.addBulk('q', [{ data: 1 }, { data: 2 }]),
      'lock.acquire': () => locks.acquire('r', { waitMs: 0 }),
      'lock.tryAcquire': () => locks.tryAcquire('r2'),
      'lock.acquire (read)': () => locks.acquire('r3', { waitMs: 0, mode: 'read' }),
      'semaphore.acquire': () => semaphores.acquire('s', { limit: 2, waitMs: 0 }),
      'counter.increment': () => counters.increment('c'),
      'counter.increment (script)': () => counters.increment('c', 1, { ttlMs: 60_000 }),
      'cache.set': () => cache.set('k', { v: 1 }, { ttlMs: 60_000 }),
      'publish (durable)': () => pubsub.publish('durable', 'x', { durable: true }),
      'config.set': () => config.set('flags', { on: true }),
      'elections.join': () => elections.join('sweeper'),
    };

    const before = await snapshot(keyPrefix);
    // 4 MB in one short command: Redis checks memory before a write (the 4 MB sent as an argument
    // would count against it already), so this one is taken and leaves `maxmemory` exceeded by
    // megabytes, not by the few bytes a freed buffer could give back.
    await raw.setrange('fill', 4 * 1024 * 1024, 'x');
    await assert.rejects(raw.set('probe', 1), /^ReplyError: OOM command not allowed/);

    const names = Object.keys(writes);
    const outcomes = await Promise.allSettled(names.map((name) => writes[name]!()));
    outcomes.forEach((outcome, i) => {
      const name = names[i]!;
      assert.equal(outcome.status, 'rejected', `${name} resolved on a full Redis`);
      const error = (outcome as PromiseRejectedResult).reason as unknown;
      assert.ok(error instanceof RedisOutOfMemoryError, `${name}: ${inspect(error)}`);
      assert.ok(error instanceof RedisCommandError);
      assert.equal(error.code, 'REDIS_OUT_OF_MEMORY');
      assert.match(error.message, /out of memory/);
      assert.match(error.message, /OOM command not allowed when used memory > 'maxmemory'/);
      assert.match(error.message, /raise maxmemory/);
      assert.equal(
        (error.cause as Error).message,
        "OOM command not allowed when used memory > 'maxmemory'.",
        name,
      );
      const shown = inspect(error, { depth: 10, showHidden: true });
      assert.doesNotMatch(shown, SCRIPT_PLUMBING, `${name} shows script plumbing:\n${shown}`);
    });
    assert.deepEqual(await snapshot(keyPrefix), before, 'a refused call wrote something');

    await raw.del('fill');
    for (const name of names) await writes[name]!();
    assert.equal(await counters.get('c'), 3);
    assert.equal((await queue.counts('q')).waiting, 4);
  });
});
