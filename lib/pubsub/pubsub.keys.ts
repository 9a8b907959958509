import type { KeySpace } from '../connection/key-space.js';

const CAPABILITY = 'pubsub';
/** Characters with a meaning in Redis glob patterns, escaped in the key prefix of a pattern. */
const GLOB_SPECIAL = /[*?[\]\\]/g;

/**
 * Every Redis name of pub/sub, built through the key space. Channel `N` is the Redis channel
 * `<keyPrefix>{pubsub:N}`; its stream and dead-letter stream hang under it, so all three share
 * one cluster slot.
 */
export class PubSubKeys {
  /** What every Redis channel starts with: `<keyPrefix>{pubsub:`. */
  private readonly channelHead: string;

  constructor(private readonly keys: KeySpace) {
    // The Redis channel of name N is `<head>N}`; taken from KeySpace, which owns that format.
    this.channelHead = keys.base(CAPABILITY, 'channel', '-').slice(0, -2);
  }

  /** The Redis channel of a channel name. */
  channel(channel: string): string {
    return this.keys.base(CAPABILITY, 'channel', channel);
  }

  /** The channel name a Redis channel stands for: the inverse of {@link channel}. */
  channelName(redisChannel: string): string {
    return redisChannel.slice(this.channelHead.length, -1);
  }

  /** The Redis pattern matching the Redis channels of the names that `pattern` matches. */
  pattern(pattern: string): string {
    // The key prefix must match literally, so its glob characters are escaped.
    const { prefix } = this.keys;
    const base = this.keys.base(CAPABILITY, 'channel pattern', pattern);
    return prefix.replace(GLOB_SPECIAL, '\\$&') + base.slice(prefix.length);
  }

  /** The stream a durable channel's messages are appended to. */
  stream(channel: string): string {
    return this.keys.key(CAPABILITY, 'channel', channel, 'stream');
  }

  /** Where a durable channel's messages go after `maxDeliveries` failures. */
  deadLetterStream(channel: string): string {
    return this.keys.key(CAPABILITY, 'channel', channel, 'dead-letter');
  }
}
