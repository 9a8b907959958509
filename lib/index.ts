import { claimSingleCopy } from './common/single-copy.guard.js';

claimSingleCopy();

export { JsonCodec, CodecError, type Codec } from './common/codec.js';
export { DuplicatePackageCopyError } from './common/single-copy.guard.js';
export {
  RedisCoordinationError,
  InvalidOptionsError,
  InvalidKeyError,
  InvalidArgumentError,
} from './common/coordination.error.js';
export {
  RedisCommandError,
  RedisConnectionError,
  RedisEvictionPolicyError,
  RedisOutOfMemoryError,
  ReplicaAckError,
} from './connection/connection.errors.js';
export type { ReplicaAckOptions } from './connection/replica-acks.js';
export {
  RedisHealthIndicator,
  type RedisHealthResult,
  type HealthCheckOptions,
} from './health/redis-health.indicator.js';
export type { TelemetryOptions } from './telemetry/telemetry.interfaces.js';
export {
  DEFAULT_REDIS_COORDINATION_OPTIONS,
  type RedisCoordinationModuleOptions,
  type SentinelConnectionOptions,
  type ClusterConnectionOptions,
  type ElectionModuleOptions,
  type LockModuleOptions,
  type SemaphoreModuleOptions,
} from './interfaces/redis-coordination-options.interface.js';
export {
  REDIS_COORDINATION_OPTIONS,
  type RedisCoordinationModuleExtras,
  type RedisCoordinationModuleForRootOptions,
  type RedisCoordinationModuleAsyncOptions,
} from './redis-coordination.module-definition.js';
export { RedisCoordinationModule } from './redis-coordination.module.js';
export { RedisLockService } from './lock/lock.service.js';
export { Lock } from './lock/lock.handle.js';
export { MAX_LOCK_TTL_MS, MIN_LOCK_TTL_MS } from './lock/lock.options.js';
export { currentLock } from './lock/lock.context.js';
export {
  LockBusyError,
  LockTimeoutError,
  LockLostError,
  LockUpgradeError,
} from './lock/lock.errors.js';
export {
  DEFAULT_LOCK_OPTIONS,
  type LockMode,
  type LockOptions,
  type WithLockOptions,
  type LockBusyPolicy,
} from './lock/lock.interfaces.js';
export { WithLock, type LockResource } from './lock/with-lock.decorator.js';
export type { KeyedMethodDecorator } from './common/method-wrapper.js';
export { SemaphoreService } from './semaphore/semaphore.service.js';
export { Permit } from './semaphore/semaphore.permit.js';
export { currentPermit } from './semaphore/semaphore.context.js';
export { MAX_SEMAPHORE_LIMIT } from './semaphore/semaphore.options.js';
export {
  SemaphoreBusyError,
  SemaphoreTimeoutError,
  PermitLostError,
  SemaphoreLimitMismatchError,
} from './semaphore/semaphore.errors.js';
export {
  DEFAULT_SEMAPHORE_OPTIONS,
  type SemaphoreOptions,
  type WithSemaphoreOptions,
  type SemaphoreBusyPolicy,
} from './semaphore/semaphore.interfaces.js';
export { WithSemaphore, type SemaphoreName } from './semaphore/with-semaphore.decorator.js';
export { QueueService } from './queue/queue.service.js';
export { JobWorker, type JobWorkerEvents } from './queue/queue.worker.js';
export {
  QueueWorker,
  JobData,
  CurrentJob,
  JobSignal,
  type QueueWorkerOptions,
} from './queue/queue-worker.decorator.js';
export { QUEUE_CONTEXT_TYPE } from './queue/queue.explorer.js';
export { QueueScheduler } from './queue/queue-scheduler.decorator.js';
export type {
  SchedulePattern,
  CronSchedule,
  EverySchedule,
  SchedulerTemplate,
  SchedulerJobOptions,
  QueueSchedulerInfo,
} from './queue/queue-scheduler.interfaces.js';
export {
  QueuePayloadError,
  QueueJobTimeoutError,
  QueueLeaseLostError,
  QueueShutdownError,
  QueueNoHandlerError,
  QueueWorkerConflictError,
  QueueJobNotFoundError,
  QueueJobFailedError,
  QueueWaitTimeoutError,
  QueueJobActiveError,
  QueueClosedError,
} from './queue/queue.errors.js';
export {
  DEFAULT_JOB_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  type BackoffOptions,
  type JobOptions,
  type AddJobOptions,
  type AddBulkOptions,
  type Job,
  type JobHandler,
  type WorkerOptions,
  type QueueCounts,
  type OldestWaitingJob,
  type AttemptError,
  type DeadJob,
  type BulkJob,
  type JobInfo,
  type JobState,
  type JobProgress,
  type QueueEvent,
  type QueueEventName,
  type QueueLimits,
  type RateLimit,
} from './queue/queue.interfaces.js';
export { PubSubService } from './pubsub/pubsub.service.js';
export type { Unsubscribe } from './connection/subscription-hub.js';
export {
  MessageTooLargeError,
  DuplicateConsumerError,
  ShardedPatternError,
} from './pubsub/pubsub.errors.js';
export {
  DEFAULT_PUBSUB_OPTIONS,
  type ChannelSelector,
  type MessageMeta,
  type DurableMessageMeta,
  type MessageHandler,
  type DurableMessageHandler,
  type PublishOptions,
  type BroadcastSubscribeOptions,
  type DurableSubscribeOptions,
  type DeadLetter,
  type DurableGroupInfo,
} from './pubsub/pubsub.interfaces.js';
export {
  OnMessage,
  MessagePayload,
  MessageContext,
  type OnMessageMetadata,
} from './pubsub/on-message.decorator.js';
export { PUBSUB_CONTEXT_TYPE } from './pubsub/pubsub.explorer.js';
export { CounterService } from './counter/counter.service.js';
export { CounterValueError } from './counter/counter.errors.js';
export type {
  CounterValue,
  HitOptions,
  HitResult,
  IncrementOptions,
  RedisThrottlerStorageOptions,
} from './counter/counter.interfaces.js';
export {
  RedisThrottlerStorage,
  type ThrottlerStorageRecordLike,
} from './counter/throttler-storage.adapter.js';
export { CacheService } from './cache/cache.service.js';
export { Cached } from './cache/cached.decorator.js';
export { CacheEvict } from './cache/cache-evict.decorator.js';
export { CacheOptionsError } from './cache/cache.errors.js';
export type {
  CacheWrapOptions,
  CacheEntryOptions,
  CachedOptions,
  CacheEvictOptions,
  CacheHit,
  CacheSetOptions,
  CacheModuleOptions,
  LocalCacheOptions,
  NearCacheModuleOptions,
} from './cache/cache.interfaces.js';
export { LiveConfigService } from './config/live-config.service.js';
export { OnConfigChange } from './config/on-config-change.decorator.js';
export {
  ConfigNotLoadedError,
  ConfigReadOnlyError,
  ConfigValidationError,
  ConfigVersionConflictError,
} from './config/live-config.errors.js';
export type {
  ConfigChange,
  ConfigValidator,
  ConfigValue,
  LiveConfigOptions,
  SetConfigOptions,
} from './config/live-config.interfaces.js';
export { ServiceRegistry } from './registry/registry.service.js';
export { NoInstanceAvailableError } from './registry/registry.errors.js';
export type {
  InstanceStatus,
  InstancesOptions,
  PickOptions,
  RegistryOptions,
  RegistryReadOptions,
  ServiceInstance,
} from './registry/registry.interfaces.js';
export { LeaderElectionService } from './election/election.service.js';
export { Election } from './election/election.handle.js';
export { Leader } from './election/leader.decorator.js';
export { OnElected, OnRevoked } from './election/election-events.decorator.js';
export { currentLeadership } from './election/election.context.js';
export { LeadershipLostError } from './election/election.errors.js';
export { MIN_ELECTION_LEASE_MS, MAX_ELECTION_LEASE_MS } from './election/election.options.js';
export {
  DEFAULT_ELECTION_OPTIONS,
  type JoinElectionOptions,
  type LeaderState,
  type CurrentLeader,
  type Leadership,
} from './election/election.interfaces.js';
export { ZooKeeperConnectionError, ZooKeeperCommandError } from './zookeeper/zookeeper.errors.js';
export type { ZooKeeperOptions, CoordinationBackend } from './zookeeper/zookeeper.interfaces.js';
export { CoordinationDashboardModule } from './dashboard/dashboard.module.js';
export { DashboardOptionsError } from './dashboard/dashboard.errors.js';
export { DASHBOARD_ACTION_HEADER } from './dashboard/dashboard.constants.js';
export {
  DEFAULT_DASHBOARD_OPTIONS,
  type CoordinationDashboardOptions,
  type DashboardGuard,
  type DashboardSemaphore,
} from './dashboard/dashboard.options.js';
export type {
  ChannelView,
  DashboardOverview,
  DashboardSection,
  DashboardSectionError,
  QueueView,
  ThroughputSample,
} from './dashboard/dashboard.interfaces.js';
export type { LockHolding } from './lock/lock.store.js';
