import { randomBytes } from 'node:crypto';
import type { LoggerService } from '@nestjs/common';
import type { RedisConnections } from '../connection/redis-connections.js';
import { invalidationChannel } from './cache.keys.js';
import type { NearCache } from './near-cache.js';

/** What changed: entry keys written or deleted, namespaces and tags invalidated. */
export interface CacheChange {
  readonly keys?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly tags?: readonly string[];
}

/** After the subscription failed, the next near-cached call tries again this much later. */
const RETRY_SUBSCRIBE_MS = 1000;

/** The message on the channel: who sent it (to skip one's own echo) and what changed. */
interface Announcement {
  readonly from: string;
  readonly k: readonly string[];
  readonly n: readonly string[];
  readonly t: readonly string[];
}

/**
 * Keeps every instance's near cache in step: each write, delete and invalidation is applied to
 * this process's near cache at once and announced on one channel; the changes of one tick go in
 * one message. Other instances evict what it names; the sender skips its own echo.
 *
 * The near cache serves only while this bus listens: from the subscription's confirmation, and
 * again once the subscriber connection is back after a loss, and then only what it kept since
 * (messages sent meanwhile are lost: what it kept before may have missed an invalidation).
 */
export class InvalidationBus {
  private readonly id = randomBytes(9).toString('base64url');
  private readonly channel: string;
  private pending: { keys: Set<string>; namespaces: Set<string>; tags: Set<string> } | undefined;
  /** The subscription is made or being made: the hub keeps it across reconnects. */
  private subscribed = false;
  private retryAt = 0;
  private readonly stops: (() => unknown)[] = [];
  private closed = false;

  constructor(
    private readonly connections: RedisConnections,
    private readonly near: NearCache,
    private readonly logger: LoggerService,
    private readonly describe: (error: unknown) => string,
  ) {
    this.channel = invalidationChannel(connections.keys);
  }

  /** Starts listening, once (at the first near-cached call): the near cache serves after. */
  listen(): void {
    if (this.subscribed || this.closed || Date.now() < this.retryAt) return;
    this.subscribed = true;
    this.subscribe().catch((error: unknown) => {
      this.subscribed = false;
      this.stopListening(); // the next try registers its listeners again
      this.retryAt = Date.now() + RETRY_SUBSCRIBE_MS;
      this.logger.warn(
        `Near cache off until the invalidation channel can be subscribed: ${this.describe(error)}`,
      );
    });
  }

  /** Applies a change here at once and announces it to the other instances. */
  announce(change: CacheChange): void {
    this.near.evict(change.keys ?? [], change.namespaces ?? [], change.tags ?? []);
    if (!this.pending) {
      this.pending = { keys: new Set(), namespaces: new Set(), tags: new Set() };
      setImmediate(() => {
        if (this.pending) this.flush();
      });
    }
    for (const key of change.keys ?? []) this.pending.keys.add(key);
    for (const namespace of change.namespaces ?? []) this.pending.namespaces.add(namespace);
    for (const tag of change.tags ?? []) this.pending.tags.add(tag);
  }

  close(): void {
    if (this.pending) this.flush(); // before the connections close
    this.closed = true;
    this.near.setLive(false);
    this.stopListening();
  }

  private stopListening(): void {
    for (const stop of this.stops.splice(0)) void Promise.resolve(stop()).catch(() => undefined);
  }

  private async subscribe(): Promise<void> {
    const hub = await this.connections.subscriptions();
    if (this.closed) return;
    this.stops.push(
      hub.onConnectionLost(() => this.near.setLive(false)),
      hub.onResubscribed(() => this.near.setLive(!this.closed)),
    );
    this.stops.push(await hub.subscribe(this.channel, (message) => this.receive(message)));
    this.near.setLive(!this.closed);
  }

  private flush(): void {
    const pending = this.pending!;
    this.pending = undefined;
    const announcement: Announcement = {
      from: this.id,
      k: [...pending.keys],
      n: [...pending.namespaces],
      t: [...pending.tags],
    };
    this.connections
      .publish(this.channel, JSON.stringify(announcement))
      .catch((error) =>
        this.logger.warn(
          `Cache change not announced to other instances, their near caches may serve the old value for up to their local ttlMs: ${this.describe(error)}`,
        ),
      );
  }

  private receive(message: string): void {
    let announcement: Announcement;
    try {
      announcement = JSON.parse(message) as Announcement;
    } catch {
      return;
    }
    if (announcement?.from === this.id) return;
    this.near.evict(names(announcement?.k), names(announcement?.n), names(announcement?.t));
  }
}

/** A list of names from a received message; anything else is taken as none. */
function names(list: unknown): readonly string[] {
  return Array.isArray(list) ? list.filter((name): name is string => typeof name === 'string') : [];
}
