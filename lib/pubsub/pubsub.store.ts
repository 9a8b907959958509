import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { assertName } from '../common/validate.js';
import type { RedisClient, RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import {
  writeThenWait,
  type Acknowledged,
  type ReplicaAckOptions,
} from '../connection/replica-acks.js';
import type { MessageListener, Unsubscribe } from '../connection/subscription-hub.js';
import { MessageTooLargeError, ShardedPatternError } from './pubsub.errors.js';
import type { DeadLetter, DurableGroupInfo } from './pubsub.interfaces.js';
import { PubSubKeys } from './pubsub.keys.js';
import type { ResolvedSelector } from './pubsub.options.js';
import {
  claimStale,
  countAfter,
  deadLetter,
  pruneConsumers,
  removeConsumer,
} from './scripts/lua.generated.js';

const claimStaleScript = new RedisScript(claimStale);
const countAfterScript = new RedisScript(countAfter);
const deadLetterScript = new RedisScript(deadLetter);
const removeConsumerScript = new RedisScript(removeConsumer);
const pruneConsumersScript = new RedisScript(pruneConsumers);

/**
 * The field of a stream entry that holds the encoded message. An entry read without it (trimmed
 * while pending, or added by hand with other fields) has no content to handle.
 */
const PAYLOAD_FIELD = 'd';
/** The field with the publisher's trace context (propagation headers, JSON), when it sent one. */
const TRACE_FIELD = 't';

/** The fields of a dead-letter entry, as deadLetter-2.lua writes them. */
type DeadLetterField = 'id' | 'group' | 'payload' | 'error' | 'deliveries';

/** A stream entry as read: id, the encoded message (null if trimmed meanwhile), deliveries. */
export interface Delivery {
  id: string;
  payload: string | null;
  deliveries: number;
  /** The publisher's trace context, when it sent one. */
  trace?: string;
}

/** What claimStale found: where to look next, what it claimed, what was trimmed meanwhile. */
export interface StaleClaim {
  cursor: string;
  claimed: Delivery[];
  /** Ids that were pending but no longer in the stream (dropped from the pending list). */
  deleted: string[];
}

/** Receives a message with the channel name it was published on. */
export type ChannelListener = (text: string, channel: string) => void;

/**
 * Pub/sub's Redis side: builds the channel keys and wraps each command in one typed method that
 * encodes what it sends and parses what it gets back.
 */
export class PubSubStore {
  private readonly keys: PubSubKeys;

  constructor(private readonly connections: RedisConnections) {
    this.keys = new PubSubKeys(connections.keys);
  }

  /** Encodes a message with the module codec, refusing one over `maxPayloadBytes`. */
  encode(channel: string, message: unknown): string {
    assertName('channel', channel);
    const payload = this.connections.codec.encode(message);
    const limit = this.connections.maxPayloadBytes;
    // Length in UTF-16 units is a lower bound of the UTF-8 size: skip the count when clearly under.
    if (payload.length * 3 > limit) {
      const bytes = Buffer.byteLength(payload);
      if (bytes > limit) throw new MessageTooLargeError(channel, bytes, limit);
    }
    return payload;
  }

  /**
   * `PUBLISH`, or `SPUBLISH` with sharded pub/sub; resolves to the number of subscribed
   * connections. Not async (hot path).
   */
  publish(channel: string, payload: string): Promise<number> {
    return this.connections
      .publish(this.keys.channel(channel), payload)
      .catch(this.connections.rethrow(`publish on channel "${channel}"`));
  }

  /** `XADD MAXLEN ~`; resolves to the entry id. Not async (hot path). */
  append(channel: string, payload: string, maxLen: number, trace?: string): Promise<string> {
    return (
      this.connections.command.xadd(
        ...this.entry(channel, payload, maxLen, trace),
      ) as Promise<string>
    ).catch(this.connections.rethrow(`publish on channel "${channel}"`));
  }

  /**
   * {@link append}, then `WAIT` for `acks.replicas`, on the connection of such writes; resolves
   * to the entry id and how many replicas confirmed it.
   */
  async appendAcknowledged(
    channel: string,
    payload: string,
    maxLen: number,
    acks: ReplicaAckOptions,
    trace?: string,
  ): Promise<Acknowledged<string>> {
    try {
      const client = await this.connections.acknowledging();
      const written = await writeThenWait(
        client,
        (pipeline) => pipeline.xadd(...this.entry(channel, payload, maxLen, trace)),
        acks,
      );
      return { ...written, reply: String(written.reply) };
    } catch (error) {
      throw this.connections.failure(error, `publish on channel "${channel}"`);
    }
  }

  /** The arguments of a durable message's `XADD`. */
  private entry(
    channel: string,
    payload: string,
    maxLen: number,
    trace?: string,
  ): [string, ...(string | number)[]] {
    const entry = [this.keys.stream(channel), 'MAXLEN', '~', maxLen, '*', PAYLOAD_FIELD, payload];
    if (trace !== undefined) entry.push(TRACE_FIELD, trace);
    return entry as [string, ...(string | number)[]];
  }

  /**
   * `SUBSCRIBE` (`SSUBSCRIBE` when sharded) to a channel or `PSUBSCRIBE` to a pattern, on the
   * shared subscriber connection; the listener gets channel names, not Redis channels.
   */
  async subscribe(target: ResolvedSelector, listener: ChannelListener): Promise<Unsubscribe> {
    const named: MessageListener = (text, redisChannel) =>
      listener(text, this.keys.channelName(redisChannel));
    if (target.pattern !== undefined) {
      if (this.connections.shardedPubSub) throw new ShardedPatternError(target.pattern);
      const pattern = this.keys.pattern(target.pattern);
      return (await this.connections.subscriptions()).psubscribe(pattern, named);
    }
    const channel = this.keys.channel(target.channel);
    return (await this.connections.subscriptions()).subscribe(channel, named);
  }

  /** `XREVRANGE` of the dead-letter stream: the newest `count` entries, newest first. */
  async deadLetters(channel: string, count: number): Promise<DeadLetter[]> {
    const entries = (await this.connections.command
      .xrevrange(this.keys.deadLetterStream(channel), '+', '-', 'COUNT', count)
      .catch(this.connections.rethrow(`read the dead letters of channel "${channel}"`))) as [
      string,
      string[],
    ][];
    return entries.map(([id, fields]) => {
      const field = {} as Record<DeadLetterField, string>;
      for (let i = 0; i < fields.length; i += 2) {
        field[fields[i] as DeadLetterField] = fields[i + 1]!;
      }
      return {
        id,
        originalId: field.id,
        group: field.group,
        payload: field.payload,
        error: field.error,
        deliveries: Number(field.deliveries),
      };
    });
  }

  /** `XINFO GROUPS` of the channel's stream; none when the stream does not exist. */
  async groups(channel: string): Promise<DurableGroupInfo[]> {
    let reply: unknown[][];
    try {
      reply = (await this.connections.command.xinfo('GROUPS', this.keys.stream(channel))) as [];
    } catch (error) {
      if (error instanceof Error && error.message.includes('no such key')) return [];
      throw this.connections.failure(error, `read the consumer groups of channel "${channel}"`);
    }
    return reply.map((fields) => {
      const field = new Map<string, unknown>();
      for (let i = 0; i < fields.length; i += 2) field.set(String(fields[i]), fields[i + 1]);
      const lag = field.get('lag');
      return {
        group: String(field.get('name')),
        consumers: Number(field.get('consumers')),
        pending: Number(field.get('pending')),
        lastDeliveredId: String(field.get('last-delivered-id')),
        lag: lag === null || lag === undefined ? null : Number(lag),
      };
    });
  }

  /**
   * How many entries follow `afterId` in the channel's stream, counting at most `atMost`
   * (countAfter-1.lua: counted in Redis, no entry sent): a group's lag where Redis cannot tell it.
   */
  async countAfter(channel: string, afterId: string, atMost: number): Promise<number> {
    const count = await countAfterScript
      .run(this.connections.command, [this.keys.stream(channel)], [afterId, atMost])
      .catch(this.connections.rethrow(`count the undelivered messages of channel "${channel}"`));
    return Number(count);
  }

  /** A new consumer of a group on a channel's stream, with a name of its own. */
  consumer(channel: string, group: string): ConsumerStore {
    return new ConsumerStore(
      this.connections,
      this.keys.stream(channel),
      this.keys.deadLetterStream(channel),
      group,
    );
  }
}

/**
 * One consumer of a consumer group on a channel's stream: a typed method per command and script
 * it runs, keys built once. Creating the group (a caller awaits it) throws the module's typed
 * errors; the loop's own calls keep Redis' errors, which it logs by message and retries.
 */
export class ConsumerStore {
  /** Unique per process and subscription: a restarted process never inherits a dead one's name. */
  readonly consumer = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

  private readonly command: RedisClient;

  constructor(
    private readonly connections: RedisConnections,
    private readonly stream: string,
    private readonly deadLetterStream: string,
    private readonly group: string,
  ) {
    this.command = connections.command;
  }

  /** `XGROUP CREATE … MKSTREAM`; a group that already exists is left as it is. */
  async createGroup(startFrom: 'oldest' | 'latest'): Promise<void> {
    try {
      await this.command.xgroup(
        'CREATE',
        this.stream,
        this.group,
        startFrom === 'oldest' ? '0' : '$',
        'MKSTREAM',
      );
    } catch (error) {
      // Idempotent: another process (or an earlier start) created it.
      if (error instanceof Error && error.message.startsWith('BUSYGROUP')) return;
      throw this.connections.failure(error, `create consumer group "${this.group}"`);
    }
  }

  /** `XREADGROUP … BLOCK` for new messages, on the consumer's own blocking connection. */
  async read(blocking: RedisClient, count: number, blockMs: number): Promise<Delivery[]> {
    const reply = (await blocking.xreadgroup(
      'GROUP',
      this.group,
      this.consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.stream,
      '>',
    )) as [string, [string, string[] | null][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => ({ id, ...contentOf(fields), deliveries: 1 }));
  }

  /** `XACK`; resolves to how many were still pending. */
  acknowledge(ids: readonly string[]): Promise<number> {
    return this.command.xack(this.stream, this.group, ...ids);
  }

  /**
   * `XCLAIM` of one message back to this consumer, counting a delivery (not JUSTID), as a
   * redelivery by Redis would. Undefined when it was acknowledged or trimmed meanwhile.
   */
  async claim(id: string): Promise<Pick<Delivery, 'payload' | 'trace'> | undefined> {
    const claimed = (await this.command.call(
      'XCLAIM',
      this.stream,
      this.group,
      this.consumer,
      0,
      id,
    )) as [string, string[] | null][];
    return claimed.length === 0 ? undefined : contentOf(claimed[0]![1]);
  }

  /** claimStale-1.lua: claims up to `count` messages idle over `minIdleMs` on other consumers. */
  async claimStale(minIdleMs: number, cursor: string, count: number): Promise<StaleClaim> {
    const [next, claimed, deleted] = (await claimStaleScript.run(
      this.command,
      [this.stream],
      [this.group, this.consumer, minIdleMs, cursor, count],
    )) as [string, [string, string[] | null, number][], string[]];
    return {
      cursor: next,
      claimed: claimed.map(([id, fields, deliveries]) => ({
        id,
        ...contentOf(fields),
        deliveries,
      })),
      deleted,
    };
  }

  /**
   * deadLetter-2.lua: acknowledges the message and records it, with its error, in the
   * dead-letter stream. Resolves to the dead-letter entry id, or null when the message was no
   * longer pending (nothing written).
   */
  async deadLetter(
    id: string,
    payload: string,
    deliveries: number,
    error: string,
    maxLen: number,
  ): Promise<string | null> {
    const deadId = await deadLetterScript.run(
      this.command,
      [this.stream, this.deadLetterStream],
      [this.group, id, payload, error, deliveries, maxLen],
    );
    return deadId === null ? null : String(deadId);
  }

  /**
   * pruneConsumers-1.lua: removes the other consumers idle over `idleOverMs` with nothing
   * pending; returns their names.
   */
  async pruneConsumers(idleOverMs: number): Promise<string[]> {
    return (await pruneConsumersScript.run(
      this.command,
      [this.stream],
      [this.group, this.consumer, idleOverMs],
    )) as string[];
  }

  /** removeConsumer-1.lua: leaves the group unless messages are pending; true when removed. */
  async removeConsumer(): Promise<boolean> {
    const removed = await removeConsumerScript.run(
      this.command,
      [this.stream],
      [this.group, this.consumer],
    );
    return removed === 1;
  }
}

/** A stream entry's message and trace context (fields null: the entry was trimmed). */
function contentOf(fields: string[] | null): Pick<Delivery, 'payload' | 'trace'> {
  let payload: string | null = null;
  let trace: string | undefined;
  for (let i = 0; fields && i < fields.length; i += 2) {
    if (fields[i] === PAYLOAD_FIELD) payload = fields[i + 1] ?? null;
    else if (fields[i] === TRACE_FIELD) trace = fields[i + 1];
  }
  return trace === undefined ? { payload } : { payload, trace };
}
