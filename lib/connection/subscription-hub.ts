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
 */
export class SubscriptionHub {
  private readonly channels = new Map<string, Subscription>();
  private readonly patterns = new Map<string, Subscription>();
  private readonly reconnectListeners = new Set<() => void>();

  constructor(
    private readonly client: RedisClient,
    private readonly logger: LoggerService,
    /** What to throw for a failed SUBSCRIBE (the module's shared mapping of Redis errors). */
    private readonly failure: (error: unknown, action: string, ifNoPerm?: string) => unknown,
  ) {
    client.on('message', (channel: string, message: string) =>
      this.dispatch(this.channels.get(channel), message, channel),
    );
    client.on('pmessage', (pattern: string, channel: string, message: string) =>
      this.dispatch(this.patterns.get(pattern), message, channel),
    );
    client.on('ready', () => {
      for (const listener of this.reconnectListeners) listener();
      if (this.channels.size + this.patterns.size === 0) return;
      this.logger.log(
        `Subscriber connection restored: re-subscribed to ${this.channels.size} channel(s) and ${this.patterns.size} pattern(s)`,
      );
    });
  }

  /**
   * Calls `listener` each time the connection is ready again after a disconnect: messages
   * published meanwhile were lost, so whoever derives state from them must re-read it.
   * Returns the function that removes the listener.
   */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Listens to one channel; resolves once Redis confirmed the subscription. */
  subscribe(channel: string, listener: MessageListener): Promise<Unsubscribe> {
    return this.add(this.channels, channel, listener, 'subscribe', 'unsubscribe');
  }

  /** Listens to every channel matching a glob-style pattern (`PSUBSCRIBE`). */
  psubscribe(pattern: string, listener: MessageListener): Promise<Unsubscribe> {
    return this.add(this.patterns, pattern, listener, 'psubscribe', 'punsubscribe');
  }

  private async add(
    registry: Map<string, Subscription>,
    name: string,
    listener: MessageListener,
    subscribe: 'subscribe' | 'psubscribe',
    unsubscribe: 'unsubscribe' | 'punsubscribe',
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
