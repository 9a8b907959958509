export { JsonCodec, CodecError, type Codec } from './common/codec.js';
export {
  RedisCoordinationError,
  InvalidOptionsError,
  InvalidKeyError,
  InvalidArgumentError,
} from './common/coordination.error.js';
export { RedisConnectionError } from './connection/connection.errors.js';
export { RedisHealthIndicator, type RedisHealthResult } from './health/redis-health.indicator.js';
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
