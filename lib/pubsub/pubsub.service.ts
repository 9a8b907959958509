import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { Observable, share } from 'rxjs';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertCount, assertName } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { unconfirmedWrite, type ReplicaAckOptions } from '../connection/replica-acks.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import { DurableConsumer } from './durable-consumer.js';
import { DuplicateConsumerError } from './pubsub.errors.js';
import type {
  BroadcastSubscribeOptions,
  ChannelSelector,
  DeadLetter,
  DurableGroupInfo,
  DurableMessageHandler,
  DurableSubscribeOptions,
  MessageHandler,
  MessageMeta,
  PublishOptions,
} from './pubsub.interfaces.js';
import {
  assertPublishOptions,
  resolveBroadcastOptions,
  resolveDurableOptions,
  resolveMaxLen,
  resolveSelector,
} from './pubsub.options.js';
import { PubSubStore, type ChannelListener } from './pubsub.store.js';
import { telemetryOf, type Telemetry } from '../telemetry/telemetry.js';
import {
  splitTraceContext,
  tracedHandle,
  tracedPublish,
  withTraceContext,
} from './pubsub.telemetry.js';

/**
 * Publishes and receives messages between the app's instances, on Redis.
 *
 * - Broadcast (`PUBLISH`/`SUBSCRIBE`): every subscribed instance gets every message, in publish
 *   order per publisher; an instance that is disconnected at the time misses it. All
 *   subscriptions of the app share one subscriber connection, restored after a reconnect.
 * - Durable (`{ durable: true }`, Redis Streams): every consumer group gets every message, even
 *   one whose instances are down at the time; within a group each message is handled by one
 *   instance, at least once, acknowledged on success, retried and finally dead-lettered.
 *
 * Channel names are hash-tagged (`<keyPrefix>{pubsub:<channel>}`), so a channel, its stream and
 * its dead-letter stream share one cluster slot.
 *
 * @example
 * await pubsub.publish('inventory.changed', { sku: 'A1', qty: 3 }); // → number of receivers
 * const off = await pubsub.subscribe('inventory.changed', (msg, meta) => refresh(msg));
 * await off();
 * await pubsub.publish('orders.placed', order, { durable: true }); // → stream entry id
 * await pubsub.subscribe('orders.placed', (order) => bill(order), { group: 'billing' });
 * pubsub.observe<Inventory>('inventory.changed').pipe(take(1)).subscribe(show);
 */
@Injectable()
export class PubSubService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('PubSubService');
  /** Every live subscription, undone at shutdown. */
  private readonly active = new Set<Unsubscribe>();
  /** Durable consumers by `channel\ngroup`: one per group and channel in an app. */
  private readonly consumers = new Map<string, DurableConsumer>();
  private readonly store: PubSubStore;

  private readonly telemetry?: Telemetry;
  /** Stops reporting the consumer-group gauges (with the module option `telemetry`). */
  private readonly stopGauges?: () => void;

  constructor(private readonly connections: RedisConnections) {
    this.store = new PubSubStore(connections);
    // Lag and pending of the groups this instance consumes, read when the SDK collects.
    this.telemetry = telemetryOf(connections);
    this.stopGauges = this.telemetry?.metrics?.addGaugeSource(async (record) => {
      const consumed = [...this.consumers.values()].map((consumer) => consumer.reads);
      const channels = new Set(consumed.map(({ channel }) => channel));
      await Promise.all(
        [...channels].map(async (channel) => {
          for (const info of await this.store.groups(channel)) {
            if (!consumed.some((c) => c.channel === channel && c.group === info.group)) continue;
            if (info.lag !== null) record.groupLag(channel, info.group, info.lag);
            record.groupPending(channel, info.group, info.pending);
          }
        }),
      );
    });
  }

  /**
   * Publishes `message` on `channel`. Broadcast: resolves to the number of subscribed
   * connections that received it (one per app instance, however many handlers it has). Durable:
   * appends it to the channel's stream in one round trip and resolves to the entry id.
   *
   * @throws InvalidKeyError for an empty or non-string channel; CodecError for a message the
   * codec cannot encode (functions, cycles); MessageTooLargeError over `maxPayloadBytes`;
   * ReplicaAckError (durable, with `replicaAcks`) when fewer replicas than asked confirmed the
   * message, which stays in the stream all the same.
   */
  publish(
    channel: string,
    message: unknown,
    options?: PublishOptions & { durable?: false },
  ): Promise<number>;
  publish(
    channel: string,
    message: unknown,
    options: PublishOptions & { durable: true },
  ): Promise<string>;
  publish(channel: string, message: unknown, options?: PublishOptions): Promise<number | string>;
  publish(
    channel: string,
    message: unknown,
    options: PublishOptions = {},
  ): Promise<number | string> {
    // Not `async`: handing back the command's own promise saves microtask hops per message,
    // which lets the command connection batch more publishes per write under load.
    try {
      assertPublishOptions(options);
      const payload = this.store.encode(channel, message);
      const { telemetry } = this;
      if (telemetry?.tracer) {
        return tracedPublish(telemetry, channel, options.durable === true, (trace) =>
          this.send(channel, payload, options, trace),
        );
      }
      return this.send(channel, payload, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Sends an encoded message, with the publisher's trace context when there is one. */
  private send(
    channel: string,
    payload: string,
    options: PublishOptions,
    trace?: string,
  ): Promise<number | string> {
    if (!options.durable) return this.store.publish(channel, withTraceContext(payload, trace));
    const acks = this.connections.replicaAcks(options.replicaAcks);
    const maxLen = resolveMaxLen(options);
    if (acks) return this.appendAcknowledged(channel, payload, maxLen, acks, trace);
    return this.store.append(channel, payload, maxLen, trace);
  }

  private async appendAcknowledged(
    channel: string,
    payload: string,
    maxLen: number,
    acks: ReplicaAckOptions,
    trace: string | undefined,
  ): Promise<string> {
    const { reply: id, ...confirmation } = await this.store.appendAcknowledged(
      channel,
      payload,
      maxLen,
      acks,
      trace,
    );
    const error = unconfirmedWrite(
      this.connections,
      acks,
      confirmation,
      `Message ${id} of durable channel "${channel}"`,
      'it stays in the stream and will be delivered; publishing it again would deliver it twice (its entry id is in error.ids)',
      [id],
    );
    if (error) throw error;
    return id;
  }

  /**
   * Calls `handler` for each message of a channel, or of every channel matching a pattern
   * (broadcast), or joins a consumer group of a durable channel (`{ group }`). Resolves once the
   * subscription is active in Redis, to a function that undoes it.
   *
   * Broadcast handlers are called in arrival order and not awaited; a throw or rejection is
   * logged with the channel and handler name, and other handlers still run. Durable handlers are
   * awaited one message at a time; see {@link DurableSubscribeOptions}. `handlerName` names the
   * handler in logs (default: the function's name).
   */
  subscribe<T = unknown>(
    selector: ChannelSelector,
    handler: MessageHandler<T>,
    options?: BroadcastSubscribeOptions & { handlerName?: string },
  ): Promise<Unsubscribe>;
  subscribe<T = unknown>(
    channel: string,
    handler: DurableMessageHandler<T>,
    options: DurableSubscribeOptions & { handlerName?: string },
  ): Promise<Unsubscribe>;
  async subscribe(
    selector: ChannelSelector,
    handler: MessageHandler | DurableMessageHandler,
    options: (BroadcastSubscribeOptions | DurableSubscribeOptions) & { handlerName?: string } = {},
  ): Promise<Unsubscribe> {
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError('handler', handler, 'expected a function');
    }
    const handlerName = options.handlerName ?? (handler.name || 'anonymous handler');
    if ('group' in options && options.group !== undefined) {
      if (typeof selector !== 'string') {
        throw new InvalidArgumentError(
          'selector',
          selector,
          'a durable subscription ({ group }) takes one channel name, not a pattern',
        );
      }
      return this.subscribeDurable(
        selector,
        handler as DurableMessageHandler,
        options,
        handlerName,
      );
    }
    return this.subscribeBroadcast(
      selector,
      handler as MessageHandler,
      options as BroadcastSubscribeOptions,
      handlerName,
    );
  }

  /**
   * The messages of a channel (or pattern) as an rxjs `Observable`. The Redis subscription is
   * opened when the first observer subscribes and closed after the last one unsubscribes; all
   * observers in between share it. An undecodable message follows `onUndecodable`.
   *
   * @example
   * const sub = pubsub.observe<Inventory>('inventory.changed').subscribe((item) => update(item));
   * sub.unsubscribe(); // last observer gone: the app unsubscribes from Redis
   */
  observe<T = unknown>(
    selector: ChannelSelector,
    options: BroadcastSubscribeOptions = {},
  ): Observable<T> {
    resolveSelector(selector); // bad input fails here, not at the first subscriber
    return new Observable<T>((observer) => {
      let off: Unsubscribe | undefined;
      let closed = false;
      const release = (undo: Unsubscribe) =>
        undo().catch((error: unknown) =>
          this.logger.warn(
            `Unsubscribing an observer of ${describeSelector(selector)} failed: ${String(error)}`,
          ),
        );
      this.subscribeBroadcast(
        selector,
        (message) => observer.next(message as T),
        options,
        'observe()',
      ).then(
        (undo) => {
          if (closed) void release(undo);
          else off = undo;
        },
        (error: unknown) => observer.error(error),
      );
      return () => {
        closed = true;
        if (off) void release(off);
      };
    }).pipe(share());
  }

  /**
   * The newest messages of a channel's dead-letter stream (durable messages that failed
   * `maxDeliveries` times), newest first.
   */
  async deadLetters(channel: string, count = 100): Promise<DeadLetter[]> {
    assertCount('count', count);
    return this.store.deadLetters(channel, count);
  }

  /**
   * The consumer groups of a durable channel (an `@OnMessage({ group })` or
   * `subscribe(channel, handler, { group })` creates one), with their consumers, pending
   * messages and lag; none when nothing was ever published or subscribed durably on it.
   */
  async groups(channel: string): Promise<DurableGroupInfo[]> {
    assertName('channel', channel);
    return this.store.groups(channel);
  }

  /**
   * How many messages of the channel's stream follow `afterId` (a group's last delivered one),
   * counting no further than `atMost`: the lag where Redis cannot tell it.
   * @internal
   */
  async countUndelivered(channel: string, afterId: string, atMost: number): Promise<number> {
    return this.store.countAfter(channel, afterId, atMost);
  }

  /** Unsubscribes everything and lets durable handlers that are running finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopGauges?.();
    await Promise.all([...this.active].map((off) => off()));
  }

  private async subscribeBroadcast(
    selector: ChannelSelector,
    handler: MessageHandler,
    options: BroadcastSubscribeOptions,
    handlerName: string,
  ): Promise<Unsubscribe> {
    const target = resolveSelector(selector);
    const { onUndecodable } = resolveBroadcastOptions(options);
    const { pattern } = target;
    const { codec } = this.connections;
    const listener: ChannelListener = (text, channel) => {
      const { payload, trace } = splitTraceContext(text);
      let message: unknown;
      let raw = false;
      try {
        message = codec.decode(payload);
      } catch (error) {
        if (onUndecodable === 'skip') {
          this.logger.warn(
            `Skipped a message on channel "${channel}" that the codec cannot decode (${(error as Error).message}); set onUndecodable: 'raw' to receive such messages as strings`,
          );
          return;
        }
        message = payload;
        raw = true;
      }
      this.invoke(handler, message, { channel, pattern, raw }, handlerName, trace);
    };
    return this.track(await this.store.subscribe(target, listener));
  }

  private async subscribeDurable(
    channel: string,
    handler: DurableMessageHandler,
    options: DurableSubscribeOptions,
    handlerName: string,
  ): Promise<Unsubscribe> {
    const settings = resolveDurableOptions(options);
    const redis = this.store.consumer(channel, settings.group);
    const key = `${channel}\n${settings.group}`;
    if (this.consumers.has(key)) throw new DuplicateConsumerError(channel, settings.group);
    const consumer = new DurableConsumer(
      this.connections,
      redis,
      { ...settings, channel, handlerName },
      handler,
      this.logger,
    );
    this.consumers.set(key, consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.consumers.delete(key);
      await consumer.stop();
      throw error;
    }
    return this.track(async () => {
      await consumer.stop();
      this.consumers.delete(key);
    });
  }

  /** Calls a broadcast handler; its failure, sync or async, is logged and goes no further. */
  private invoke(
    handler: MessageHandler,
    message: unknown,
    meta: MessageMeta,
    handlerName: string,
    trace: string | undefined,
  ): void {
    const fail = (error: unknown) =>
      this.logger.error(
        `Handler ${handlerName} failed on a message of channel "${meta.channel}": ${(error as Error)?.stack ?? String(error)}`,
      );
    const { telemetry } = this;
    if (telemetry?.tracer) {
      const attributes = meta.pattern === undefined ? {} : { 'coordination.pattern': meta.pattern };
      void tracedHandle(telemetry, meta.channel, trace, attributes, async () =>
        handler(message, meta),
      ).catch(fail);
      return;
    }
    try {
      const result = handler(message, meta);
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  private track(off: () => Promise<void>): Unsubscribe {
    const once: Unsubscribe = async () => {
      if (!this.active.delete(once)) return;
      await off();
    };
    this.active.add(once);
    return once;
  }
}

function describeSelector(selector: ChannelSelector): string {
  return typeof selector === 'string' ? `channel "${selector}"` : `pattern "${selector.pattern}"`;
}
