import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { it } from '@jest/globals';
import {
  CacheService,
  CounterService,
  LeaderElectionService,
  LiveConfigService,
  PubSubService,
  QueueService,
  RedisCoordinationError,
  RedisCoordinationModule,
  RedisHealthIndicator,
  RedisLockService,
  SemaphoreService,
  ServiceRegistry,
} from '../../../lib/index.js';
import { CapturingLogger, closeModule, startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

const OLD_PASSWORD = 'old-Pa55word-4711';
const NEW_PASSWORD = 'new-Pa55word-0815';

/**
 * The password is rotated under a running app (`ACL SETUSER … resetpass`, then the app's
 * connections killed): every reconnect is refused, and ioredis's errors carry the rejected
 * `HELLO 3 AUTH <user> <password>` in `command.args`. No public method may let such an error
 * (or one holding it as its cause) reach the caller, and nothing logged may name the password.
 */
describeWithRedisServer('a rotated password', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  for (const redis of [{}, { commandTimeout: 300 }]) {
    it(`never reaches an error or a log line (redis options ${JSON.stringify(redis)})`, async () => {
      server.cli(
        'ACL',
        'SETUSER',
        'app',
        'on',
        'resetpass',
        `>${OLD_PASSWORD}`,
        '~*',
        '&*',
        '+@all',
      );
      const logger = new CapturingLogger();
      const moduleRef = await startModule(
        [
          RedisCoordinationModule.forRoot({
            url: `redis://app:${OLD_PASSWORD}@127.0.0.1:${server.port}`,
            redis,
          }),
        ],
        { logger },
      );
      const locks = moduleRef.get(RedisLockService);
      const counters = moduleRef.get(CounterService);
      const queue = moduleRef.get(QueueService);
      const pubsub = moduleRef.get(PubSubService);
      const cache = moduleRef.get(CacheService);
      // Background loops that meet the outage too: their logs are checked below.
      queue.process('q', () => undefined);
      await pubsub.subscribe('durable', () => undefined, { group: 'g' });
      await pubsub.subscribe('broadcast', () => undefined);
      const held = await locks.acquire('held');
      const semaphores = moduleRef.get(SemaphoreService);
      const permit = await semaphores.acquire('held', { limit: 2 });

      server.cli('ACL', 'SETUSER', 'app', 'resetpass', `>${NEW_PASSWORD}`);
      server.cli('CLIENT', 'KILL', 'USER', 'app');

      const calls: Record<string, () => Promise<unknown>> = {
        'lock.acquire': () => locks.acquire('r', { waitMs: 1000 }),
        'lock.tryAcquire': () => locks.tryAcquire('r'),
        'lock.isLocked': () => locks.isLocked('r'),
        'lock.extend': () => held.extend(),
        'lock.release': () => held.release(),
        'semaphore.acquire': () => semaphores.acquire('s', { limit: 1, waitMs: 1000 }),
        'semaphore.available': () => semaphores.available('s', { limit: 1 }),
        'semaphore.using': () => semaphores.using('s', { limit: 1 }, () => undefined),
        'permit.extend': () => permit.extend(),
        'permit.release': () => permit.release(),
        'counter.increment': () => counters.increment('c'),
        'counter.increment (script)': () => counters.increment('c', 1, { ttlMs: 1000 }),
        'counter.get': () => counters.get('c'),
        'counter.getMany': () => counters.getMany(['c', 'd']),
        'counter.reset': () => counters.reset('c'),
        'counter.hit': () => counters.hit('h', { limit: 5, windowMs: 1000 }),
        'queue.add': () => queue.add('q', { n: 1 }),
        'queue.addBulk': () => queue.addBulk('q', [{ data: 1 }]),
        'queue.counts': () => queue.counts('q'),
        'queue.dead': () => queue.dead('q'),
        'queue.retryDead': () => queue.retryDead('q'),
        'queue.pause': () => queue.pause('q'),
        'queue.resume': () => queue.resume('q'),
        publish: () => pubsub.publish('broadcast', 'x'),
        'publish (durable)': () => pubsub.publish('durable', 'x', { durable: true }),
        subscribe: () => pubsub.subscribe('other', () => undefined),
        'subscribe (durable)': () => pubsub.subscribe('other', () => undefined, { group: 'h' }),
        deadLetters: () => pubsub.deadLetters('durable'),
        'cache.get': () => cache.get('k'),
        'cache.set': () => cache.set('k', 1, { ttlMs: 1000 }),
        'cache.wrap': () => cache.wrap('k', () => 1, { ttlMs: 1000 }),
        'cache.delete': () => cache.delete('k'),
        'cache.invalidate': () => cache.invalidate('ns'),
        'config.set': () => moduleRef.get(LiveConfigService).set('flags', 1),
        'config.load': () => moduleRef.get(LiveConfigService).load('other'),
        'registry.instances': () => moduleRef.get(ServiceRegistry).instances('billing'),
        'registry.pick': () => moduleRef.get(ServiceRegistry).pick('billing'),
        'elections.join': () => moduleRef.get(LeaderElectionService).join('sweeper'),
        health: () => moduleRef.get(RedisHealthIndicator).isHealthy(),
      };
      const names = Object.keys(calls);
      const outcomes = await Promise.allSettled(names.map((name) => calls[name]!()));
      const rejected = new Map<string, unknown>();
      outcomes.forEach((outcome, i) => {
        if (outcome.status === 'rejected') rejected.set(names[i]!, outcome.reason);
      });
      // Whatever must reach Redis to answer failed (the cache may fall back to its loader).
      // The cache may fall back to its loader; an election joined within a lease of the lost
      // connection sits out without asking Redis (its errors, if any, are checked below).
      const mayResolve = (n: string) =>
        n.startsWith('cache.') || n === 'health' || n === 'elections.join';
      for (const name of names.filter((n) => !mayResolve(n))) {
        assert.ok(rejected.has(name), `${name} resolved without Redis`);
      }
      for (const [name, error] of rejected) {
        assert.ok(error instanceof RedisCoordinationError, `${name}: ${inspect(error)}`);
        const shown = inspect(error, { depth: 10, showHidden: true });
        assert.ok(!shown.includes(OLD_PASSWORD), `${name} shows the password:\n${shown}`);
      }
      // Let the worker's and the consumer's connections meet the outage too before reading the log.
      await waitUntil(() =>
        ['blocking:queue:q', 'blocking:pubsub:durable:g', 'subscriber'].every((role) =>
          logger.lines.some((line) => line.includes(`Redis ${role} connection`)),
        ),
      );
      const logged = logger.lines.join('\n');
      assert.ok(!logged.includes(OLD_PASSWORD), logged);

      server.cli('ACL', 'SETUSER', 'app', 'resetpass', `>${OLD_PASSWORD}`);
      await closeModule(moduleRef);
    });
  }
});
