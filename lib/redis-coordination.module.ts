import { Logger, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CacheService } from './cache/cache.service.js';
import { HandlerDiscovery } from './common/handler-discovery.js';
import { LiveConfigExplorer } from './config/live-config.explorer.js';
import { LiveConfigService } from './config/live-config.service.js';
import { ServiceRegistry } from './registry/registry.service.js';
import { RedisConnections } from './connection/redis-connections.js';
import { CounterService } from './counter/counter.service.js';
import { RedisThrottlerStorage } from './counter/throttler-storage.adapter.js';
import { ElectionExplorer } from './election/election.explorer.js';
import { LeaderElectionService } from './election/election.service.js';
import { RedisHealthIndicator } from './health/redis-health.indicator.js';
import type { RedisCoordinationModuleOptions } from './interfaces/redis-coordination-options.interface.js';
import { RedisLockService } from './lock/lock.service.js';
import { PubSubExplorer } from './pubsub/pubsub.explorer.js';
import { PubSubService } from './pubsub/pubsub.service.js';
import { QueueExplorer } from './queue/queue.explorer.js';
import { QueueSchedulerExplorer } from './queue/queue-scheduler.explorer.js';
import { QueueService } from './queue/queue.service.js';
import {
  ConfigurableRedisCoordinationModule,
  REDIS_COORDINATION_OPTIONS,
} from './redis-coordination.module-definition.js';
import { resolveOptions } from './redis-coordination.options.js';
import { SemaphoreService } from './semaphore/semaphore.service.js';
import { ZooKeeperConnection } from './zookeeper/zookeeper.connection.js';

const zooKeeperProvider: Provider = {
  provide: ZooKeeperConnection,
  // Opened only when configured: the client package is then loaded, and app start fails fast
  // if the ensemble cannot be reached.
  useFactory: (connections: RedisConnections) =>
    connections.zookeeper
      ? ZooKeeperConnection.open(connections.zookeeper, new Logger('RedisCoordination'))
      : ZooKeeperConnection.disabled(),
  inject: [RedisConnections],
};

const connectionsProvider: Provider = {
  provide: RedisConnections,
  // Options are checked here, so bad ones fail app start with every problem listed, and the
  // app does not finish starting before Redis is ready.
  useFactory: (options: RedisCoordinationModuleOptions) =>
    RedisConnections.open(resolveOptions(options), new Logger('RedisCoordination')),
  inject: [REDIS_COORDINATION_OPTIONS],
};

/**
 * Distributed coordination on Redis for a Nest app: one import gives locks, semaphores, leader
 * election, queues, pub/sub, counters, caching, live configuration and a service registry, all
 * sharing the module's connections.
 *
 * @example
 * // app.module.ts: `@Module({ imports: [coordination] })`
 * const coordination = RedisCoordinationModule.forRoot({ url: process.env.REDIS_URL, isGlobal: true });
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    connectionsProvider,
    zooKeeperProvider,
    HandlerDiscovery,
    RedisHealthIndicator,
    RedisLockService,
    QueueService,
    QueueExplorer,
    QueueSchedulerExplorer,
    PubSubService,
    PubSubExplorer,
    CounterService,
    RedisThrottlerStorage,
    CacheService,
    LiveConfigService,
    LiveConfigExplorer,
    ServiceRegistry,
    SemaphoreService,
    LeaderElectionService,
    ElectionExplorer,
  ],
  exports: [
    // For the library's own modules that build on this one (CoordinationDashboardModule).
    RedisConnections,
    RedisHealthIndicator,
    RedisLockService,
    QueueService,
    PubSubService,
    CounterService,
    RedisThrottlerStorage,
    CacheService,
    LiveConfigService,
    ServiceRegistry,
    SemaphoreService,
    LeaderElectionService,
  ],
})
export class RedisCoordinationModule extends ConfigurableRedisCoordinationModule {}
