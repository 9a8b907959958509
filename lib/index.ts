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
export { PubSubService, type Unsubscribe } from './pubsub/pubsub.service.js';
export { MessageTooLargeError, DuplicateConsumerError } from './pubsub/pubsub.errors.js';
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
} from './pubsub/pubsub.interfaces.js';
export {
  OnMessage,
  MessagePayload,
  MessageContext,
  type OnMessageMetadata,
} from './pubsub/on-message.decorator.js';
export { PUBSUB_CONTEXT_TYPE } from './pubsub/pubsub.explorer.js';
