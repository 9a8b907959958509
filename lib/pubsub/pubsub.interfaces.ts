import type { ReplicaAckOptions } from '../connection/replica-acks.js';

/**
 * What to listen to: one channel by name, or every channel whose name matches a glob-style
 * pattern (`*`, `?`, `[abc]`, `\` escapes; Redis `PSUBSCRIBE` syntax). Patterns are broadcast only.
 */
export type ChannelSelector = string | { pattern: string };

/** Where a broadcast message came from. */
export interface MessageMeta {
  /** The channel name as published (without the module's `keyPrefix`). */
  readonly channel: string;
  /** The pattern that matched, for a pattern subscription. */
  readonly pattern?: string;
  /**
   * True when the message could not be decoded with the module codec and is handed over as the
   * raw string (e.g. a `redis-cli PUBLISH`), with `onUndecodable: 'raw'`.
   */
  readonly raw: boolean;
}

/** Where a durable message came from, and how often it was delivered. */
export interface DurableMessageMeta {
  readonly channel: string;
  readonly group: string;
  /** The Redis Stream entry id, e.g. `1700000000000-0`: unique per message and channel. */
  readonly id: string;
  /** 1 on first delivery; higher when retried after a failure or reclaimed from a dead consumer. */
  readonly deliveries: number;
  /** The consumer (this process) handling it. */
  readonly consumer: string;
}

/** Handles a broadcast message. A throw or rejection is logged; other handlers still run. */
export type MessageHandler<T = unknown> = (message: T, meta: MessageMeta) => unknown;

/**
 * Handles a durable message. Resolving acknowledges it; a throw or rejection redelivers it with
 * backoff until `maxDeliveries`, then moves it to the channel's dead-letter stream.
 */
export type DurableMessageHandler<T = unknown> = (message: T, meta: DurableMessageMeta) => unknown;

/** Options of `publish()`. */
export interface PublishOptions {
  /**
   * Append to the channel's Redis Stream instead of `PUBLISH`: every consumer group receives the
   * message, even a consumer that is down or reconnecting right now.
   * @default false
   */
  durable?: boolean;
  /**
   * Durable only: the stream is trimmed to about this many entries (`XADD MAXLEN ~`). Entries
   * trimmed before a lagging group read them are lost to it, so size it for the longest outage.
   * @default 100000
   */
  maxLen?: number;
  /**
   * Durable only: wait for this many replicas to confirm the message (Redis `WAIT`) before
   * `publish()` resolves; `false`: not for this call. When fewer confirm within `timeoutMs`,
   * `publish()` fails with `ReplicaAckError`, but the message stays in the stream and will be
   * delivered: its `ids` holds the entry id (publishing again delivers it twice). Refused for a
   * broadcast, which Redis does not store. See {@link ReplicaAckOptions}.
   * @default the module option `replicaAcks` for a durable publish, else off
   */
  replicaAcks?: ReplicaAckOptions | false;
}

/** Options of a broadcast subscription. */
export interface BroadcastSubscribeOptions {
  /**
   * A message the codec cannot decode (e.g. a raw `PUBLISH` from redis-cli): `'skip'` logs a
   * warning naming the channel and drops it; `'raw'` hands the raw string over with `meta.raw`.
   * @default 'skip'
   */
  onUndecodable?: 'raw' | 'skip';
}

/** Options of a durable subscription (a consumer in a consumer group). */
export interface DurableSubscribeOptions {
  /** The consumer group: every group gets every message; within a group, one consumer does. */
  group: string;
  /**
   * Deliveries before a failing message goes to the dead-letter stream.
   * @default 5
   */
  maxDeliveries?: number;
  /**
   * A message pending this long on another consumer (one that died) is reclaimed (`XAUTOCLAIM`).
   * A consumer idle twice this long with nothing pending (its process died) leaves the group.
   * Make it longer than the slowest handler run, or slow messages run twice.
   * @default 30000
   */
  claimIdleMs?: number;
  /**
   * Delay before the first redelivery of a failed message; doubled each further attempt and
   * capped at half of `claimIdleMs` (so no other consumer reclaims it meanwhile).
   * @default 1000
   */
  retryDelayMs?: number;
  /**
   * Messages read per `XREADGROUP`; handled one after another, in stream order.
   * @default 32
   */
  batchSize?: number;
  /**
   * Where a group that does not exist yet starts: `'oldest'` handles what the stream still holds
   * (nothing published before the first consumer started is lost); `'latest'` only newer ones.
   * @default 'oldest'
   */
  startFrom?: 'oldest' | 'latest';
  /**
   * The dead-letter stream is trimmed to about this many entries.
   * @default 10000
   */
  deadLetterMaxLen?: number;
}

/** A message moved to a channel's dead-letter stream after `maxDeliveries` failures. */
export interface DeadLetter {
  /** Id of the dead-letter entry. */
  readonly id: string;
  /** Id the message had in the channel's stream. */
  readonly originalId: string;
  readonly group: string;
  /** The message as stored (encoded with the module codec). */
  readonly payload: string;
  /** The last error's message. */
  readonly error: string;
  readonly deliveries: number;
}

/** A consumer group of a durable channel, as Redis reports it (`XINFO GROUPS`). */
export interface DurableGroupInfo {
  readonly group: string;
  /** Consumers in the group, including ones idle since their process died. */
  readonly consumers: number;
  /** Messages delivered to a consumer and not yet acknowledged. */
  readonly pending: number;
  /** The newest entry delivered to the group. */
  readonly lastDeliveredId: string;
  /**
   * Entries in the stream not yet delivered to the group; null when Redis cannot tell (entries
   * were deleted from the middle of the stream, or trimmed away before the group read them).
   */
  readonly lag: number | null;
}

/** Defaults of publish and subscribe options, in one place. */
export const DEFAULT_PUBSUB_OPTIONS = Object.freeze({
  maxLen: 100_000,
  onUndecodable: 'skip' as const,
  maxDeliveries: 5,
  claimIdleMs: 30_000,
  retryDelayMs: 1000,
  batchSize: 32,
  startFrom: 'oldest' as const,
  deadLetterMaxLen: 10_000,
});
