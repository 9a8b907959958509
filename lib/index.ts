export { JsonCodec, CodecError, type Codec } from './common/codec.js';
export {
  RedisCoordinationError,
  InvalidOptionsError,
  InvalidKeyError,
  InvalidArgumentError,
} from './common/coordination.error.js';
export { RedisConnectionError } from './connection/connection.errors.js';
export {
  DEFAULT_REDIS_COORDINATION_OPTIONS,
  type RedisCoordinationModuleOptions,
  type SentinelConnectionOptions,
  type ClusterConnectionOptions,
} from './interfaces/redis-coordination-options.interface.js';
export {
  REDIS_COORDINATION_OPTIONS,
  type RedisCoordinationModuleExtras,
  type RedisCoordinationModuleForRootOptions,
  type RedisCoordinationModuleAsyncOptions,
} from './redis-coordination.module-definition.js';
export { RedisCoordinationModule } from './redis-coordination.module.js';
export { CounterService } from './counter/counter.service.js';
export { CounterValueError } from './counter/counter.errors.js';
export type {
  CounterValue,
  HitOptions,
  HitResult,
  IncrementOptions,
} from './counter/counter.interfaces.js';
export {
  RedisThrottlerStorage,
  type ThrottlerStorageRecordLike,
} from './counter/throttler-storage.adapter.js';
export { CacheService } from './cache/cache.service.js';
export { Cached, type TypedMethodDecorator } from './cache/cached.decorator.js';
export { CacheEvict } from './cache/cache-evict.decorator.js';
export { CacheOptionsError } from './cache/cache.errors.js';
export type {
  CacheWrapOptions,
  CacheEntryOptions,
  CachedOptions,
  CacheEvictOptions,
  CacheHit,
} from './cache/cache.interfaces.js';
