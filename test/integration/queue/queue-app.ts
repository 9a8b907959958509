import { afterEach, beforeEach } from '@jest/globals';
import { type JobWorker, QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { closeStartedModules, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix, type TestRedis } from '../../support/redis.js';
import { useTestRedis } from '../../support/hooks.js';

/** What a queue test works with; replaced before each test. */
export interface QueueApp {
  /** The suite's Redis, with a plain client for assertions. */
  readonly redis: TestRedis;
  /** The test's own key prefix, so tests never see each other's keys. */
  prefix: string;
  queue: QueueService;
  connections: RedisConnections;
  /** `queue.process()`, with the worker closed after the test. */
  start(...args: Parameters<QueueService['process']>): JobWorker;
}

/**
 * Registers hooks that start a module on a fresh key prefix before each test and close its
 * workers and module after it. Call while describing; read the fields inside tests and hooks.
 */
export function useQueueApp(): QueueApp {
  const redis = useTestRedis();
  const workers: JobWorker[] = [];
  const app = {
    redis,
    start(...args: Parameters<QueueService['process']>): JobWorker {
      const worker = app.queue.process(...args);
      workers.push(worker);
      return worker;
    },
  } as QueueApp;
  beforeEach(async () => {
    app.prefix = uniqueKeyPrefix();
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: app.prefix }),
    ]);
    app.queue = moduleRef.get(QueueService);
    app.connections = moduleRef.get(RedisConnections);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
    await closeStartedModules();
  });
  return app;
}
