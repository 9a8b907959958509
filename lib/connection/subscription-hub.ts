import type { LoggerService } from '@nestjs/common';
import { waitAtMost } from '../common/within.js';
import type { RedisClient } from './redis-connections.js';

/** Receives a message of a channel (or of a channel matching a pattern). */
export type MessageListener = (message: string, channel: string) => void;

/**
 * Undoes a subscription: resolves once Redis unsubscribed (the Redis subscription ends when its
 * last listener is removed), or, for a durable one, once its consumer drained.
 */
export type Unsubscribe = () => Promise<void>;

/**
 * How long an unsubscribe waits for Redis to confirm. The listener is gone at once, and commands
 * on the connection stay in order, so nothing depends on the reply; but a frozen Redis never
 * sends it, and shutdown (which unsubscribes) must not wait for it.
 */
const UNSUBSCRIBE_WAIT_MS = 2000;

/**
 * With sharded pub/sub, ioredis re-subscribes after every change of a Cluster's topology and
 * says so (`subscribersReady`) each time; while a dead master is still listed that happens many
 * times a second. A re-subscription is announced once no other came for this long.
 */
const SHARDED_RESUBSCRIBE_QUIET_MS = 250;

interface Subscription {
  readonly listeners: Set<MessageListener>;
  /** Settles when Redis has confirmed the SUBSCRIBE/PSUBSCRIBE of this entry. */
  confirmed: Promise<unknown>;
}

/**
 * The app's one subscriber connection, shared by every capability (lock waiters, pub/sub
 * handlers, cache fills). Listeners are counted per channel and pattern: Redis is asked to
 * subscribe for the first listener and to unsubscribe after the last one. After a reconnect,
 * ioredis re-subscribes everything (`autoResubscribe`); the hub logs that it did.
 *
 * With sharded pub/sub (a Cluster), channels are `SSUBSCRIBE`d: ioredis keeps one connection per
 * master and moves each channel to its slot's new owner after a failover or resharding. Sharded
 * pub/sub has no patterns.
 */
export class SubscriptionHub {
  private readonly channels = new Map<string, Subscription>();
  private readonly patterns = new Map<string, Subscription>();
  private readonly resubscribed = new Set<() => void>();
  private readonly lost = new Set<() => void>();

  private resubscribedTimer?: NodeJS.Timeout;

  constructor(
    private readonly client: RedisClient,
    private readonly logger: LoggerService,
    /** Channels are sharded (`SSUBSCRIBE`); the client is a Cluster with `shardedSubscribers`. */
    private readonly sharded: boolean,
    /** What to throw for a failed SUBSCRIBE (the module's shared mapping of Redis errors). */
    private readonly failure: (error: unknown, action: string, ifNoPerm?: string) => unknown,
  ) {
    client.on(sharded ? 'smessage' : 'message', (channel: string, message: string) =>
      this.dispatch(this.channels.get(channel), message, channel),
    );
    client.on('pmessage', (pattern: string, channel: string, message: string) =>
      this.dispatch(this.patterns.get(pattern), message, channel),
    );
    client.on('ready', () => this.reportResubscribed());
    client.on('close', () => {
      for (const listener of this.lost) listener();
    });
    if (sharded) {
      client.on('subscribersReady', () => {
        clearTimeout(this.resubscribedTimer);
        this.resubscribedTimer = setTimeout(
          () => this.reportResubscribed(),
          SHARDED_RESUBSCRIBE_QUIET_MS,
        ).unref();
      });
    }
  }

  /**
   * Calls `listener` each time the connection is back after a loss and listening again: messages
   * published meanwhile are lost, so whoever keeps state from them must read it again.
   */
  onResubscribed(listener: () => void): () => void {
    this.resubscribed.add(listener);
    return () => this.resubscribed.delete(listener);
  }

  /**
   * Calls `listener` each time the connection closes: from then until {@link onResubscribed},
   * messages are lost, so whoever serves state kept current by them must stop serving it.
   */
  onConnectionLost(listener: () => void): () => void {
    this.lost.add(listener);
    return () => this.lost.delete(listener);
  }

  /** Listens to one channel; resolves once Redis confirmed the subscription. */
  subscribe(channel: string, listener: MessageListener): Promise<Unsubscribe> {
    return this.sharded
      ? this.add(this.channels, channel, listener, 'ssubscribe', 'sunsubscribe')
      : this.add(this.channels, channel, listener, 'subscribe', 'unsubscribe');
  }

  /** Listens to every channel matching a glob-style pattern (`PSUBSCRIBE`). */
  psubscribe(pattern: string, listener: MessageListener): Promise<Unsubscribe> {
    return this.add(this.patterns, pattern, listener, 'psubscribe', 'punsubscribe');
  }

  private async add(
    registry: Map<string, Subscription>,
    name: string,
    listener: MessageListener,
    subscribe: 'subscribe' | 'ssubscribe' | 'psubscribe',
    unsubscribe: 'unsubscribe' | 'sunsubscribe' | 'punsubscribe',
  ): Promise<Unsubscribe> {
    let entry = registry.get(name);
    if (!entry) {
      entry = { listeners: new Set(), confirmed: this.client[subscribe](name) };
      registry.set(name, entry);
    }
    const subscription = entry;
    subscription.listeners.add(listener);
    try {
      await subscription.confirmed;
    } catch (error) {
      subscription.listeners.delete(listener);
      if (subscription.listeners.size === 0 && registry.get(name) === subscription)
        registry.delete(name);
      const ifNoPerm = subscribe === 'psubscribe' ? patternGrantAdvice(name) : undefined;
      throw this.failure(error, `${subscribe} to "${name}"`, ifNoPerm);
    }
    let removed = false;
    return async () => {
      if (removed) return;
      removed = true;
      subscription.listeners.delete(listener);
      if (subscription.listeners.size > 0 || registry.get(name) !== subscription) return;
      registry.delete(name);
      // Commands on one connection run in order, so a later re-subscribe cannot be undone here.
      if (this.client.status === 'ready') {
        await waitAtMost(this.client[unsubscribe](name), UNSUBSCRIBE_WAIT_MS);
      }
    };
  }

  private reportResubscribed(): void {
    if (this.channels.size + this.patterns.size === 0) return;
    this.logger.log(
      `Subscriber connection restored: re-subscribed to ${this.channels.size} channel(s) and ${this.patterns.size} pattern(s)`,
    );
    this.announceResubscribed();
  }

  /**
   * ioredis emits `ready` before it sends the re-subscriptions; a PING queued behind them is
   * answered once they are active, and only then can a re-read miss nothing.
   */
  private announceResubscribed(): void {
    if (this.resubscribed.size === 0) return;
    setImmediate(() => {
      this.client.ping().then(
        () => {
          for (const listener of this.resubscribed) listener();
        },
        () => undefined, // lost again: the next `ready` announces it
      );
    });
  }

  private dispatch(subscription: Subscription | undefined, message: string, channel: string): void {
    if (!subscription) return;
    for (const listener of subscription.listeners) {
      try {
        listener(message, channel);
      } catch (error) {
        // One failing listener must not starve the others of the message.
        this.logger.error(
          `A listener of channel "${channel}" threw: ${(error as Error)?.stack ?? String(error)}`,
        );
      }
    }
  }
}

/**
 * What to grant when the ACL refuses a pattern. Redis compares a PSUBSCRIBE pattern with the
 * user's channel rules as a string, not as a glob: `&coord:*` allows the pattern `coord:*` only.
 */
function patternGrantAdvice(pattern: string): string {
  return `Redis checks a pattern subscription against the ACL user's channel rules literally, so a rule such as &<keyPrefix>* does not cover it: add the rule &${pattern} (this exact pattern) or allchannels to the user`;
}
