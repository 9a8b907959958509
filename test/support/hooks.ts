import { afterAll, afterEach, beforeAll } from '@jest/globals';
import type { RedisServerOptions, ZooKeeperServerOptions } from '../../lib/testing/index.js';
import { ChildApp } from './child-process.js';
import { closeStartedModules } from './nest.js';
import { RedisClusterServers, RedisServer, startTestRedis, type TestRedis } from './redis.js';
import { startTestZooKeeper, ZooKeeperEnsemble, type TestZooKeeper } from './zookeeper.js';

// Each helper registers jest hooks on the enclosing `describe`, so call it while
// describing. Hooks of one kind run in the order they were registered: a spec that needs
// children killed before its modules close calls useChildApps() before closeModulesAfterEach().

/**
 * Starts a resource in `beforeAll` and disposes of it in `afterAll`. Returns a stand-in whose members
 * forward to the started resource, so specs write `redis.url` although the value only exists
 * once the hook has run.
 */
function useStarted<T extends { dispose(): Promise<void> }>(
  what: string,
  start: () => Promise<T>,
): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(() => started?.dispose());
  return new Proxy({} as T, {
    get(_, member) {
      if (!started) throw new Error(`${what} is not started yet: use it in a test or hook`);
      const value: unknown = Reflect.get(started, member, started);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}

/** Registers `beforeAll`/`afterAll` hooks that start and dispose of the suite's {@link TestRedis}. */
export function useTestRedis(): TestRedis {
  return useStarted('the test Redis', startTestRedis);
}

/** Registers `beforeAll`/`afterAll` hooks that start and dispose of the suite's own redis-server. */
export function useRedisServer(options: RedisServerOptions = {}): RedisServer {
  return useStarted('the redis-server', () => RedisServer.start(options));
}

/** Registers `beforeAll`/`afterAll` hooks that start and dispose of the suite's Redis Cluster. */
export function useRedisCluster(
  masters = 3,
  options: { replicas?: number } = {},
): RedisClusterServers {
  return useStarted('the Redis Cluster', () => RedisClusterServers.start(masters, options));
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start and dispose of the suite's own standalone
 * ZooKeeper server (use it inside `describeWithZooKeeper`).
 */
export function useTestZooKeeper(options: ZooKeeperServerOptions = {}): TestZooKeeper {
  return useStarted('the test ZooKeeper', () => startTestZooKeeper(options));
}

/** Registers `beforeAll`/`afterAll` hooks that start and dispose of the suite's ZooKeeper ensemble. */
export function useZooKeeperEnsemble(
  size = 3,
  options: ZooKeeperServerOptions = {},
): ZooKeeperEnsemble {
  return useStarted('the ZooKeeper ensemble', () => ZooKeeperEnsemble.start(size, options));
}

/** Registers an `afterEach` hook that closes every module the test started with startModule. */
export function closeModulesAfterEach(): void {
  afterEach(closeStartedModules);
}

/** Registers an `afterEach` hook that kills every child spawned by the returned ChildApp.spawn. */
export function useChildApps(): typeof ChildApp.spawn {
  const children = new Set<ChildApp>();
  afterEach(async () => {
    await Promise.all([...children].map((child) => child.kill()));
    children.clear();
  });
  return (fixture, options) => {
    const child = ChildApp.spawn(fixture, options);
    children.add(child);
    return child;
  };
}
