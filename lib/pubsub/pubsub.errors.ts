import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * A message is larger, once encoded, than the module option `maxPayloadBytes`. Nothing was
 * published: split the message, or raise the option if Redis memory allows it.
 */
export class MessageTooLargeError extends RedisCoordinationError {
  constructor(
    readonly channel: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      'MESSAGE_TOO_LARGE',
      `Message for channel "${channel}" is ${bytes} bytes encoded, over maxPayloadBytes (${limit}): publish a smaller message or raise the module option maxPayloadBytes`,
    );
  }
}

/**
 * A second handler for the same durable channel and group was registered in one app. Within a
 * group each message goes to one consumer, so two handlers would each see only part of it: give
 * them different groups, or handle both in one method.
 */
export class DuplicateConsumerError extends RedisCoordinationError {
  constructor(
    readonly channel: string,
    readonly group: string,
  ) {
    super(
      'DUPLICATE_CONSUMER',
      `Channel "${channel}" already has a handler in group "${group}" in this app: use another group name, or one handler`,
    );
  }
}

/**
 * A pattern subscription while the module uses sharded pub/sub (the module option
 * `shardedPubSub`, on by default on a Redis 7 Cluster): Redis shards channels by their slot, and a
 * pattern spans every slot, so sharded pub/sub has no patterns. Subscribe to each channel by
 * name, or set `shardedPubSub: false` on every instance (every message then goes to every node).
 */
export class ShardedPatternError extends RedisCoordinationError {
  constructor(readonly pattern: string) {
    super(
      'SHARDED_PATTERN',
      `Cannot subscribe to the pattern "${pattern}": the module uses sharded pub/sub (on a Redis Cluster), which has no pattern subscriptions. Subscribe to each channel by name, or set the module option shardedPubSub: false on every instance`,
    );
  }
}
