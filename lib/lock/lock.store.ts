import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { WAITER_LEASE_MS } from '../common/waiter-polling.js';
import { retryInBackground } from '../connection/background-retry.js';
import { RedisConnectionError } from '../connection/connection.errors.js';
import type { RedisClient, RedisConnections } from '../connection/redis-connections.js';
import type { ReplicaAckOptions, ReplicaConfirmation } from '../connection/replica-acks.js';
import { RedisScript, type ScriptArgument } from '../connection/script-runner.js';
import type { LockMode } from './lock.interfaces.js';
import { inboxOf, resourceKeys, type ResourceKeys } from './lock.keys.js';
import {
  acquireLock,
  acquireReadLock,
  extendLock,
  extendReadLock,
  isLocked,
  leaveQueue,
  releaseLock,
  releaseReadLock,
} from './scripts/lua.generated.js';

/** The scripts of each mode. */
const SCRIPTS = {
  write: {
    acquire: new RedisScript(acquireLock),
    extend: new RedisScript(extendLock),
    release: new RedisScript(releaseLock),
  },
  read: {
    acquire: new RedisScript(acquireReadLock),
    extend: new RedisScript(extendReadLock),
    release: new RedisScript(releaseReadLock),
  },
} as const;
const leaveQueueScript = new RedisScript(leaveQueue);
const isLockedScript = new RedisScript(isLocked);

/** How an acquire attempt treats a busy resource. */
export interface AcquireMode {
  /** Join the waiter queue (else give up at once, as `tryAcquire` does). */
  readonly join: boolean;
  /** First come, first served. */
  readonly fair: boolean;
  /** This token may already be queued (a retry). */
  readonly queued: boolean;
}

/** An acquire that waits for replicas: the connection it goes on (and its `WAIT`), how many. */
export interface AckedAcquire {
  readonly client: RedisClient;
  readonly acks: ReplicaAckOptions;
}

/** The outcome of one acquire attempt. */
export type AcquireReply =
  | {
      readonly taken: true;
      readonly fences: number[];
      /** Set when the attempt waited for replicas. */
      readonly confirmation?: ReplicaConfirmation;
    }
  | {
      readonly taken: false;
      /** The longest remaining lease among busy resources; -1 unknown. */
      readonly waitHintMs: number;
      /** Waiters queued before this one (single resource; 0 otherwise). */
      readonly ahead: number;
    };

/** A lock held right now, as {@link LockStore.listHeld} finds it. */
export interface LockHolding {
  readonly resource: string;
  readonly mode: LockMode;
  /** The service instances holding it (their `instance` names): one writer, or the readers. */
  readonly holders: readonly string[];
  /** The writer's fencing token. */
  readonly fencingToken?: number;
  /** Until the lease ends unless renewed (for readers: the longest lease). */
  readonly expiresInMs: number;
  /** Acquirers queued for it. */
  readonly waiters: number;
}

/** SCAN calls per Redis node before {@link LockStore.listHeld} stops looking (COUNT 1000 each). */
const MAX_SCANS_PER_NODE = 100;

/** What a release message on an inbox means for the waiter holding `token`. */
export type ReleaseNotice =
  /** The lock is free and this waiter is first: retry now. */
  | { readonly retry: true }
  /** The lock was handed straight to this waiter, with this fencing token. */
  | { readonly retry: false; readonly fence: number };

/**
 * The lock's Redis side: one typed method per script, and the only place that knows the lock's
 * formats, shared with the scripts:
 * - token: `[h<leaseMs>:]<instance>:<n>` for a writer, `<instance>:<n>:r` for a reader.
 *   `instance` names this service instance (its release inbox); the `h` prefix marks a
 *   single-resource writer that may be handed the lock directly, with that short lease
 *   (common/lua/waiterQueue.lua, includes/serveWaiters.lua); the `:r` suffix lets the scripts
 *   tell readers from writers in the waiter queue (includes/wakeWaiters.lua).
 * - read holds: the `readers` sorted set, tokens scored by lease end (includes/readers.lua).
 * - owner value: `<token>#<seconds>.<microseconds>`, the fencing token as Redis TIME gave it
 *   (includes/owner.lua); a fencing token is seconds * 10^6 + microseconds.
 * - acquire flags: `w` join, `f` fair, `q` queued ({@link AcquireMode}).
 * - release message: `<token>` (retry now) or `<token>#<fence>` (handed over).
 */
export class LockStore {
  /** Names this service instance in its tokens and its release inbox (no `:` or `#`). */
  readonly instance = `i${randomBytes(12).toString('base64url')}`;
  private tokenCount = 0;

  constructor(private readonly connections: RedisConnections) {}

  keysOf(resources: readonly string[]): ResourceKeys[] {
    return resources.map((name) => resourceKeys(this.connections.keys, name));
  }

  /** Where this instance hears the releases that name its waiters of a resource. */
  inboxOf(keys: ResourceKeys): string {
    return inboxOf(keys, this.instance);
  }

  /**
   * A token for one acquisition. With `handOverLeaseMs` (a single-resource waiter), a releaser
   * may pass the lock straight to it with that lease: one hop instead of a wake-up and a retry.
   */
  newToken(handOverLeaseMs?: number): string {
    const handOver = handOverLeaseMs === undefined ? '' : `h${handOverLeaseMs}:`;
    return `${handOver}${this.instance}:${(this.tokenCount++).toString(36)}`;
  }

  /** A token for one read acquisition (never handed over: a releaser wakes readers instead). */
  newReadToken(): string {
    return `${this.instance}:${(this.tokenCount++).toString(36)}:r`;
  }

  /** Reads a message of an inbox: `undefined` when it names another waiter. */
  static readRelease(message: string, token: string): ReleaseNotice | undefined {
    if (message === token) return { retry: true };
    if (message.length > token.length && message.startsWith(`${token}#`)) {
      return { retry: false, fence: Number(message.slice(token.length + 1)) };
    }
    return undefined;
  }

  /**
   * Reads an owner value: the instance whose token holds the resource, and the fencing token.
   * `undefined` for a value not in the owner format.
   */
  static readOwner(value: string): { instance: string; fence: number } | undefined {
    const match = /^(?:h\d+:)?([^:#]+):[^#]*#(\d+)\.(\d+)$/.exec(value);
    if (!match) return undefined;
    return { instance: match[1]!, fence: Number(match[2]) * 1_000_000 + Number(match[3]) };
  }

  /**
   * One run of acquireLock (acquireReadLock for `'read'`): takes every resource, all or nothing,
   * or reports it busy. A first attempt left without a reply is {@link abandon}ed here (Redis may
   * still run it); a waiter's retries are abandoned by the waiter when it gives up. With `acked`
   * it goes on that connection followed by `WAIT`, and a taken lock says how many replicas
   * confirmed it.
   */
  acquire(
    resources: readonly string[],
    keys: readonly ResourceKeys[],
    token: string,
    ttlMs: number,
    lockMode: LockMode,
    mode: AcquireMode,
    acked?: AckedAcquire,
  ): Promise<AcquireReply> {
    const flags = `${mode.join ? 'w' : ''}${mode.fair ? 'f' : ''}${mode.queued ? 'q' : ''}`;
    const args = mode.join ? [token, ttlMs, flags, WAITER_LEASE_MS] : [token, ttlMs, flags];
    const script = SCRIPTS[lockMode].acquire;
    const failed = (client: RedisClient) => (error: unknown) => {
      const failure = this.failure(error, resources, 'acquire');
      if (failure instanceof RedisConnectionError && !mode.queued) {
        void this.abandon(resources, keys, token, ttlMs, lockMode, client);
      }
      throw failure;
    };
    if (acked) return this.acquireAcknowledged(script, keys, args, acked, failed(acked.client));
    return script
      .run(this.connections.command, acquireKeys(keys), args)
      .then(readAcquireReply, failed(this.connections.command));
  }

  private acquireAcknowledged(
    script: RedisScript,
    keys: readonly ResourceKeys[],
    args: readonly ScriptArgument[],
    { client, acks }: AckedAcquire,
    failed: (error: unknown) => never,
  ): Promise<AcquireReply> {
    return script
      .runAcknowledged(client, acquireKeys(keys), args, acks)
      .then(({ reply, ...confirmation }) => readAcquireReply(reply, confirmation), failed);
  }

  /** Renews every resource's lease; false when any is no longer held with the token. */
  extend(
    resources: readonly string[],
    keys: readonly ResourceKeys[],
    token: string,
    ttlMs: number,
    lockMode: LockMode,
  ): Promise<boolean> {
    const holds = keys.map(lockMode === 'write' ? (k) => k.owner : (k) => k.readers);
    return this.run(
      SCRIPTS[lockMode].extend,
      holds,
      [token, ttlMs],
      resources,
      'extend',
      (reply) => reply === 1,
    );
  }

  /** Frees what is still held with the token (never another holder's) and serves waiters. */
  release(
    resources: readonly string[],
    keys: readonly ResourceKeys[],
    token: string,
    lockMode: LockMode,
    client: RedisClient = this.connections.command,
  ): Promise<void> {
    const args = [token, this.connections.publishCommand, ...keys.map((k) => k.channel)];
    const scriptKeys = lockMode === 'write' ? releaseKeys(keys) : acquireKeys(keys);
    return this.run(
      SCRIPTS[lockMode].release,
      scriptKeys,
      args,
      resources,
      'release',
      () => undefined,
      client,
    );
  }

  /** Removes a waiter that gave up from the queues, waking whoever is now first. */
  async leaveQueue(
    keys: readonly ResourceKeys[],
    token: string,
    client: RedisClient = this.connections.command,
  ): Promise<void> {
    const queues = keys.flatMap((k) => [k.queue, k.alive]);
    await leaveQueueScript.run(client, queues, [
      token,
      this.connections.publishCommand,
      ...keys.map((k) => k.channel),
    ]);
  }

  /**
   * Gives up everything `token` may hold or wait for: its queue places and any resource held with
   * it. For an acquire whose reply never came (timed out, connection lost), Redis may still run
   * it: a frozen server when it wakes, a dropped connection if it had delivered it. Sent now on
   * `client`, the connection of that acquire, the release follows it there, so it undoes it
   * either way; while Redis cannot be reached it is tried again until `leaseMs` (the longest the
   * acquire could hold) has passed. Resolves after the first try, whatever its outcome.
   */
  abandon(
    resources: readonly string[],
    keys: readonly ResourceKeys[],
    token: string,
    leaseMs: number,
    lockMode: LockMode,
    client: RedisClient = this.connections.command,
  ): Promise<void> {
    return retryInBackground(
      () =>
        Promise.all([
          this.leaveQueue(keys, token, client),
          this.release(resources, keys, token, lockMode, client),
        ]),
      leaseMs,
      () => client.status === 'end',
    );
  }

  /** True if any of the resources is held right now (by anyone: a writer or a reader). */
  isLocked(resources: readonly string[], keys: readonly ResourceKeys[]): Promise<boolean> {
    const holds = keys.flatMap((k) => [k.owner, k.readers]);
    return this.run(isLockedScript, holds, [], resources, 'check', (reply) => reply === 1);
  }

  /**
   * Up to `limit` locks held right now, found by a SCAN of the lock keys (on every master of a
   * Cluster), at most {@link MAX_SCANS_PER_NODE} calls per node: an operator's view, never the
   * hot path. `truncated` when it stopped before the end of the key space.
   */
  async listHeld(limit: number): Promise<{ locks: LockHolding[]; truncated: boolean }> {
    const { command, keys } = this.connections;
    const nodes = 'nodes' in command ? command.nodes('master') : [command];
    const found = new Map<string, LockMode>();
    let truncated = false;
    for (const node of nodes) {
      let cursor = '0';
      let scans = 0;
      do {
        if (found.size >= limit || scans++ === MAX_SCANS_PER_NODE) {
          truncated = true;
          break;
        }
        const [next, batch] = await node.scan(
          cursor,
          'MATCH',
          keys.scanPattern('lock'),
          'COUNT',
          1000,
        );
        cursor = next;
        for (const key of batch) {
          const writer = keys.nameIn('lock', key, 'owner');
          const reader = keys.nameIn('lock', key, 'readers');
          if (writer !== undefined) found.set(writer, 'write');
          else if (reader !== undefined && !found.has(reader)) found.set(reader, 'read');
        }
      } while (cursor !== '0');
    }
    const locks = await Promise.all(
      [...found].slice(0, limit).map(([resource, mode]) => this.readHolding(resource, mode)),
    );
    return { locks: locks.filter((lock) => lock !== undefined), truncated };
  }

  /** One resource's holders, lease and waiters; `undefined` when it was released meanwhile. */
  private async readHolding(resource: string, mode: LockMode): Promise<LockHolding | undefined> {
    const { command } = this.connections;
    const [keys] = this.keysOf([resource]) as [ResourceKeys];
    if (mode === 'read') {
      const [[seconds, micros], waiters] = await Promise.all([
        command.time(),
        command.zcard(keys.queue),
      ]);
      const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      // Readers are scored by when their lease ends (Redis ms, includes/readers.lua); one whose
      // lease ended stays in the ZSET (and keeps the key alive) until a script drops it, so only
      // scores after now are holds, as the scripts count them.
      const live = await command.zrangebyscore(keys.readers, `(${nowMs}`, '+inf', 'WITHSCORES');
      if (live.length === 0) return undefined;
      const tokens = live.filter((_, i) => i % 2 === 0);
      const holders = [...new Set(tokens.map((token) => token.split(':')[0]!))];
      return { resource, mode, holders, expiresInMs: Number(live.at(-1)) - nowMs, waiters };
    }
    const [expiresInMs, waiters, owner] = await Promise.all([
      command.pttl(keys.owner),
      command.zcard(keys.queue),
      command.get(keys.owner),
    ]);
    const parsed = owner === null ? undefined : LockStore.readOwner(owner);
    if (expiresInMs < 0 || !parsed) return undefined;
    return {
      resource,
      mode,
      holders: [parsed.instance],
      fencingToken: parsed.fence,
      expiresInMs,
      waiters,
    };
  }

  /**
   * Runs a script and parses its reply; a Redis error becomes {@link failure}'s. One `.then` for
   * both, not `async`: acquire and release are the lock's hot path.
   */
  private run<T>(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    resources: readonly string[],
    action: string,
    parse: (reply: unknown) => T,
    client: RedisClient = this.connections.command,
  ): Promise<T> {
    return script.run(client, keys, args).then(parse, (error: unknown) => {
      throw this.failure(error, resources, action);
    });
  }

  /** "Keys in different cluster slots" becomes InvalidArgumentError; the rest is the shared mapping. */
  private failure(error: unknown, resources: readonly string[], action: string): unknown {
    // Redis says CROSSSLOT; ioredis, when it pipelines, checks the slots itself first.
    if (error instanceof Error && /CROSSSLOT|belong to the same slot/.test(error.message)) {
      return new InvalidArgumentError(
        'resources',
        resources,
        'on a Redis Cluster, resources locked together must hash to one slot: give them a common hash tag, e.g. "{stock}:a" and "{stock}:b"',
      );
    }
    return this.connections.failure(error, `${action} lock ${resources.join(', ')}`);
  }
}

/** Reads an acquire script's reply; `confirmation` when it waited for replicas. */
function readAcquireReply(reply: unknown, confirmation?: ReplicaConfirmation): AcquireReply {
  // One resource taken: its fencing token alone; several: [1, ...fences]; busy: [0, hint, ahead].
  if (typeof reply === 'number') return { taken: true, fences: [reply], confirmation };
  const [status, ...rest] = reply as number[];
  if (status === 1) return { taken: true, fences: rest, confirmation };
  return { taken: false, waitHintMs: rest[0] ?? -1, ahead: rest[1] ?? 0 };
}

/** The KEYS of the acquire scripts (and of releaseReadLock): owner, queue, alive and readers of each resource. */
function acquireKeys(keys: readonly ResourceKeys[]): string[] {
  if (keys.length === 1) return [keys[0]!.owner, keys[0]!.queue, keys[0]!.alive, keys[0]!.readers];
  return keys.flatMap((k) => [k.owner, k.queue, k.alive, k.readers]);
}

/** The KEYS of releaseLock: owner, queue and alive of each resource (a writer has no readers to check). */
function releaseKeys(keys: readonly ResourceKeys[]): string[] {
  if (keys.length === 1) return [keys[0]!.owner, keys[0]!.queue, keys[0]!.alive];
  return keys.flatMap((k) => [k.owner, k.queue, k.alive]);
}
