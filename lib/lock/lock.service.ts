import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { LinkedList } from '../common/linked-list.js';
import { assertMilliseconds, assertName, MAX_MILLISECONDS } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import {
  RedisScript,
  type ScriptArgument,
  type ScriptSource,
} from '../connection/script-runner.js';
import { lockContext, type LockFrame } from './lock.context.js';
import { LockBusyError, LockTimeoutError } from './lock.errors.js';
import {
  HeldLock,
  Lock,
  MAX_LOCK_TTL_MS,
  MIN_LOCK_TTL_MS,
  type LockBackend,
  type ResourceKeys,
} from './lock.handle.js';
import { DEFAULT_LOCK_OPTIONS, type LockOptions, type WithLockOptions } from './lock.interfaces.js';
import { ReleaseNotifier } from './release-notifier.js';
import { acquireLock, extendLock, leaveQueue, releaseLock } from './scripts/lua.generated.js';

/** How long a waiter's queue entry lives unless it retries; retries come at most POLL_MAX_MS apart. */
const WAITER_LEASE_MS = 1000;
/** Fallback polling (a lost release message, an expired lease): first and longest interval. */
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 200;
/**
 * Lease of a lock handed straight to a waiter; the waiter then extends it to its `ttlMs`. Kept
 * short so a waiter that died just before its turn holds the others up about as long as its
 * stale queue entry would.
 */
const HANDOVER_LEASE_MS = WAITER_LEASE_MS;

/**
 * A script whose KEYS come in groups (one group per resource): runs the same Lua, and so the
 * same SHA, with as many groups as there are resources.
 */
class GroupedScript {
  private readonly bySize = new Map<number, RedisScript>();

  constructor(private readonly source: ScriptSource) {}

  run(connections: RedisConnections, keys: string[], args: ScriptArgument[]): Promise<unknown> {
    let script = this.bySize.get(keys.length);
    if (!script) {
      script = new RedisScript({ ...this.source, numberOfKeys: keys.length });
      this.bySize.set(keys.length, script);
    }
    return script.run(connections.command, keys, args);
  }
}

const acquireScript = new GroupedScript(acquireLock);
const extendScript = new GroupedScript(extendLock);
const releaseScript = new GroupedScript(releaseLock);
const leaveQueueScript = new GroupedScript(leaveQueue);

/** A validated acquire request. */
interface Plan {
  resources: string[];
  keys: ResourceKeys[];
  ttlMs: number;
  waitMs: number;
  fair: boolean;
  maxHoldMs: number | undefined;
}

type Attempt =
  | { held: HeldLock }
  | { held?: undefined; waitHintMs: number; /** Waiters queued before this one. */ ahead: number };

/**
 * Distributed locks on Redis with fencing tokens, a renewing watchdog, pub/sub wake-ups,
 * anti-starvation (optionally strict FIFO) and reentrancy within a `using()` call chain.
 *
 * - Acquire is one script: `SET NX PX` semantics plus the fencing token, atomically.
 * - Release and extend compare the owner token: a lock is never freed or extended by anyone
 *   but its holder.
 * - Waiters hear releases on the app's shared subscriber connection; polling is the fallback.
 *
 * @example
 * constructor(private readonly locks: RedisLockService) {}
 *
 * async pay(orderId: string) {
 *   return this.locks.using(`order:${orderId}`, async (signal, lock) => {
 *     const order = await this.orders.load(orderId, { signal });
 *     await this.orders.save(order, { fencingToken: lock.fencingToken });
 *   }, { ttlMs: 10_000, waitMs: 5_000 });
 * }
 */
@Injectable()
export class RedisLockService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('RedisLockService');
  private readonly notifier: ReleaseNotifier;
  private readonly held = new LinkedList<HeldLock>();
  /** Names this instance in its lock tokens (and its release inbox); a counter follows. */
  private readonly instance = `i${randomBytes(12).toString('base64url')}`;
  private tokenCount = 0;
  private readonly backend: LockBackend = {
    extend: (held, ttlMs) => this.extendHeld(held, ttlMs),
    release: (held) => this.releaseHeld(held),
    forget: (held) => this.held.delete(held),
  };

  constructor(private readonly connections: RedisConnections) {
    this.notifier = new ReleaseNotifier(connections);
  }

  /**
   * Takes a lock on one resource, or on several all-or-nothing (sorted, one script), waiting up
   * to `waitMs` for a busy one.
   *
   * Throws {@link LockTimeoutError} if still busy after `waitMs`, `RedisConnectionError` if Redis
   * cannot be reached, `InvalidKeyError`/`InvalidArgumentError` for bad input. The lock is not
   * renewed: keep `ttlMs` above the work's duration, call `extend()`, or use {@link using}.
   *
   * @example
   * await using lock = await locks.acquire(['stock:a', 'stock:b'], { ttlMs: 5_000 });
   */
  acquire(resource: string | readonly string[], options: LockOptions = {}): Promise<Lock> {
    return this.take(resource, options, true) as Promise<Lock>;
  }

  /** Takes the lock if it is free right now; `null` if busy. Never waits. */
  async tryAcquire(
    resource: string | readonly string[],
    options: Omit<LockOptions, 'waitMs'> = {},
  ): Promise<Lock | null> {
    return this.take(resource, { ...options, waitMs: 0 }, false);
  }

  /**
   * Runs `work` holding the lock, renewing it about every ttl/3 while `work` runs, and releases
   * it afterwards. `signal` aborts with `LockLostError` if a renewal finds the lock gone or cannot
   * reach Redis before the lease would end. Inside `work`, acquiring the same resource again
   * (directly or through `@WithLock`) succeeds at once; only this outermost level frees it.
   *
   * @example
   * const total = await locks.using('report', async (signal) => buildReport({ signal }), {
   *   ttlMs: 5_000,
   *   maxHoldMs: 60_000,
   * });
   */
  async using<T>(
    resource: string | readonly string[],
    work: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options: LockOptions = {},
  ): Promise<T> {
    const lock = (await this.take(resource, options, true)) as Lock;
    return this.runHolding(lock, options.maxHoldMs, () => work(lock.signal, lock));
  }

  /** True if any of the resources is locked right now (by anyone, this process included). */
  async isLocked(resource: string | readonly string[]): Promise<boolean> {
    const keys = resourceNames(resource).map((name) => this.keysOf(name).owner);
    try {
      const found = await Promise.all(keys.map((key) => this.connections.command.exists(key)));
      return found.some((count) => count > 0);
    } catch (error) {
      throw this.mapRedisError(error, resourceNames(resource), 'check');
    }
  }

  /**
   * Runs `work` under the lock as `@WithLock` does, applying its `onBusy` policy.
   * @internal
   */
  async runExclusive(
    resource: string | readonly string[],
    options: WithLockOptions,
    work: () => unknown,
  ): Promise<unknown> {
    const onBusy = options.onBusy ?? 'wait';
    const wait = onBusy === 'wait';
    const lock = await this.take(resource, wait ? options : { ...options, waitMs: 0 }, wait);
    if (!lock) {
      if (onBusy === 'skip') return undefined;
      throw new LockBusyError(resourceNames(resource));
    }
    return this.runHolding(lock, options.maxHoldMs, work);
  }

  /** Loses (aborting their signals) and frees every lock still held, so peers need not wait out the TTL. */
  async beforeApplicationShutdown(): Promise<void> {
    const held = [...this.held];
    for (const lock of held) lock.lose('the application is shutting down');
    // Lost here, yet still ours in Redis: free them now rather than at the end of the lease
    // (which frees them anyway if Redis cannot be reached now).
    await Promise.all(
      held.map((lock) =>
        this.connections.atShutdown('freeing a lock', () => lock.release()).catch(() => undefined),
      ),
    );
    await this.notifier.close();
  }

  private async runHolding<T>(
    lock: Lock,
    maxHoldMs: number | undefined,
    work: () => Promise<T> | T,
  ): Promise<T> {
    if (lock.outermost) lock.held.startWatchdog(maxHoldMs);
    const frame: LockFrame = {
      owner: this,
      held: lock.held,
      lock,
      parent: lockContext.getStore(),
    };
    try {
      return await lockContext.run(frame, work);
    } finally {
      if (lock.outermost) {
        lock.held.stopWatchdog();
        await lock.release().catch((error: unknown) =>
          // The lease frees it anyway; the work's own result or error matters more.
          this.logger.warn(
            `Could not release lock ${lock.resources.join(', ')}: ${this.connections.redact(String(error))}; it frees itself when its lease ends`,
          ),
        );
      }
    }
  }

  private plan(resource: unknown, options: LockOptions): Plan {
    const { ttlMs, waitMs, fair, maxHoldMs } = lockSettings(options);
    const resources = resourceNames(resource);
    const keys = resources.map((name) => this.keysOf(name));
    return { resources, keys, ttlMs, waitMs, fair, maxHoldMs };
  }

  private keysOf(name: string): ResourceKeys {
    const keys = this.connections.keys;
    const base = keys.base('lock', 'lock resource', name);
    return {
      owner: keys.under(base, 'owner'),
      queue: keys.under(base, 'queue'),
      alive: keys.under(base, 'alive'),
      channel: keys.under(base, 'released'),
    };
  }

  /** Where this service instance hears the releases that name its waiters for a resource. */
  private inboxOf(keys: ResourceKeys): string {
    return `${keys.channel}:${this.instance}`;
  }

  /** Acquires per `options`; `wait` false returns null at once when busy. */
  private async take(resource: unknown, options: LockOptions, wait: boolean): Promise<Lock | null> {
    const plan = this.plan(resource, options);
    const reentered = this.reenter(plan);
    if (reentered) return reentered;
    // A single-resource waiter's token carries the lease to hand it the lock with, so the
    // releaser can pass the lock straight on (one hop instead of a wake-up and a retry).
    const handOver =
      plan.resources.length === 1 ? `h${Math.min(plan.ttlMs, HANDOVER_LEASE_MS)}:` : '';
    const token = `${handOver}${this.instance}:${(this.tokenCount++).toString(36)}`;
    const waits = wait && plan.waitMs > 0;
    const first = await this.attempt(plan, token, waits, false);
    if (first.held) return this.track(first.held);
    if (!waits) {
      if (wait) throw new LockTimeoutError(plan.resources, 0);
      return null;
    }
    return this.track(await this.waitFor(plan, token, first.waitHintMs, first.ahead));
  }

  private track(held: HeldLock): Lock {
    this.held.append(held);
    return new Lock(held, true);
  }

  /** Inside a `using()`/`@WithLock` chain holding every resource of `plan`: a reentrant handle. */
  private reenter(plan: Plan): Lock | undefined {
    const innermost = lockContext.getStore();
    if (!innermost) return undefined;
    const heldByChain = new Set<string>();
    for (let frame: LockFrame | undefined = innermost; frame; frame = frame.parent) {
      if (frame.owner !== this || frame.held.isReleased || frame.held.lost) continue;
      const holds = new Set(frame.held.resources);
      if (plan.resources.every((name) => holds.has(name))) return new Lock(frame.held, false);
      for (const name of holds) heldByChain.add(name);
    }
    const overlap = plan.resources.filter((name) => heldByChain.has(name));
    if (overlap.length > 0) {
      // Taking them all again would wait on our own lock until waitMs.
      throw new InvalidArgumentError(
        'resources',
        plan.resources,
        `this call chain already holds ${overlap.join(', ')}: lock only the others here, or take them all at the outer level`,
      );
    }
    return undefined;
  }

  private async waitFor(
    plan: Plan,
    token: string,
    waitHintMs: number,
    ahead: number,
  ): Promise<HeldLock> {
    const deadline = performance.now() + plan.waitMs;
    let woken = false;
    let handedFence: number | undefined;
    let wake: (() => void) | undefined;
    // The releaser names the first waiter, who alone retries at once (or, if it waits for one
    // resource, is handed the lock with its fencing token); the others keep their place and
    // poll, so a release costs one wake-up, not one per waiter.
    const onRelease = (message: string) => {
      if (message === token) woken = true;
      else if (message.startsWith(`${token}#`))
        handedFence = Number(message.slice(token.length + 1));
      else return;
      wake?.();
    };
    // Without a subscription (subscriber connection down) polling alone still gets the lock.
    const watches = await Promise.allSettled(
      plan.keys.map((keys) => this.notifier.watch(this.inboxOf(keys), onRelease)),
    );
    let backoff = POLL_MIN_MS;
    let hint = waitHintMs;
    // When the last attempt that found the lock busy was sent: a lock handed over later
    // started its lease after that, so counting from here is on the safe side.
    let lastBusyAt = performance.now();
    // A release between the first attempt and subscribing went to the waiter then first; if
    // others were queued ahead of us it was not ours, so only the first in line retries now.
    let retry = ahead === 0;
    try {
      for (;;) {
        if (handedFence === undefined && retry) {
          const sentAt = performance.now();
          const result = await this.attempt(plan, token, true, true);
          if (result.held) return result.held;
          lastBusyAt = sentAt;
          hint = result.waitHintMs;
        }
        retry = true;
        if (handedFence !== undefined) {
          const leaseMs = Math.min(plan.ttlMs, HANDOVER_LEASE_MS);
          const held = new HeldLock(
            this.backend,
            plan.resources,
            plan.keys,
            token,
            [handedFence],
            plan.ttlMs,
            lastBusyAt,
            leaseMs,
          );
          // Extended to ttlMs a third into the short lease, off the hand-over path; a failure
          // aborts the signal (or the short lease runs out).
          if (leaseMs < plan.ttlMs) held.scheduleTopUp(Math.floor(leaseMs / 3));
          return held;
        }
        const remaining = deadline - performance.now();
        if (remaining <= 0) throw new LockTimeoutError(plan.resources, plan.waitMs);
        if (!woken) {
          let delay = Math.min(backoff * (0.75 + Math.random() * 0.5), remaining);
          if (hint >= 0) delay = Math.min(delay, hint + 1);
          let timer: NodeJS.Timeout | undefined;
          const timedOut = await new Promise<boolean>((resolve) => {
            wake = () => resolve(false);
            timer = setTimeout(() => resolve(true), Math.max(1, delay));
          });
          clearTimeout(timer);
          wake = undefined;
          if (timedOut) backoff = Math.min(backoff * 2, POLL_MAX_MS);
        }
        woken = false;
      }
    } catch (error) {
      // Give up our place at once so the queue does not stall until the entry expires, and
      // pass on a lock that may have been handed to us meanwhile.
      await this.leaveQueue(plan, token).catch(() => undefined);
      await this.releaseToken(plan.resources, plan.keys, token).catch(() => undefined);
      throw error;
    } finally {
      for (const watch of watches) if (watch.status === 'fulfilled') watch.value();
    }
  }

  /**
   * One run of the acquire script; `queued`: this token may already be in the waiter queue.
   * A `.then` rather than `async`: one promise fewer on every acquisition.
   */
  private attempt(plan: Plan, token: string, join: boolean, queued: boolean): Promise<Attempt> {
    const flags = `${join ? 'w' : ''}${plan.fair ? 'f' : ''}${queued ? 'q' : ''}`;
    const args = join ? [token, plan.ttlMs, flags, WAITER_LEASE_MS] : [token, plan.ttlMs, flags];
    const sentAt = performance.now();
    return acquireScript.run(this.connections, lockKeys(plan.keys), args).then(
      (reply): Attempt => {
        // One resource taken: its fencing token alone; several: [1, ...tokens]; busy: [0, hint, ahead].
        let fences: number[];
        if (typeof reply === 'number') fences = [reply];
        else {
          const [status, ...rest] = reply as number[];
          if (status !== 1) return { waitHintMs: rest[0] ?? -1, ahead: rest[1] ?? 0 };
          fences = rest;
        }
        const { resources, keys, ttlMs } = plan;
        return { held: new HeldLock(this.backend, resources, keys, token, fences, ttlMs, sentAt) };
      },
      (error: unknown) => {
        throw this.mapRedisError(error, plan.resources, 'acquire');
      },
    );
  }

  private async extendHeld(held: HeldLock, ttlMs: number): Promise<boolean> {
    const keys = held.keys.map((k) => k.owner);
    try {
      return (await extendScript.run(this.connections, keys, [held.token, ttlMs])) === 1;
    } catch (error) {
      throw this.mapRedisError(error, held.resources, 'extend');
    }
  }

  private releaseHeld(held: HeldLock): Promise<void> {
    this.held.delete(held);
    return this.releaseToken(held.resources, held.keys, held.token);
  }

  private releaseToken(
    resources: readonly string[],
    keys: readonly ResourceKeys[],
    token: string,
  ): Promise<void> {
    const args = [token, ...keys.map((k) => k.channel)];
    return releaseScript.run(this.connections, lockKeys(keys), args).then(
      () => undefined,
      (error: unknown) => {
        throw this.mapRedisError(error, resources, 'release');
      },
    );
  }

  private async leaveQueue(plan: Plan, token: string): Promise<void> {
    const keys = plan.keys.flatMap((k) => [k.queue, k.alive]);
    await leaveQueueScript.run(this.connections, keys, [token, ...plan.keys.map((k) => k.channel)]);
  }

  /** "Redis is down" and "keys in different cluster slots" become typed errors; others pass. */
  private mapRedisError(error: unknown, resources: readonly string[], action: string): unknown {
    const unreachable = this.connections.failure(error, `${action} lock ${resources.join(', ')}`);
    if (unreachable !== error) return unreachable;
    // Redis says CROSSSLOT; ioredis, when it pipelines, checks the slots itself first.
    if (error instanceof Error && /CROSSSLOT|belong to the same slot/.test(error.message)) {
      return new InvalidArgumentError(
        'resources',
        resources,
        'on a Redis Cluster, resources locked together must hash to one slot: give them a common hash tag, e.g. "{stock}:a" and "{stock}:b"',
      );
    }
    return error;
  }
}

/** The KEYS of the acquire and release scripts: owner, queue and alive of each resource. */
function lockKeys(keys: readonly ResourceKeys[]): string[] {
  if (keys.length === 1) return [keys[0]!.owner, keys[0]!.queue, keys[0]!.alive];
  return keys.flatMap((k) => [k.owner, k.queue, k.alive]);
}

/** Validated resource names, sorted and without duplicates (a fixed order prevents deadlocks). */
function resourceNames(resource: unknown): string[] {
  if (!Array.isArray(resource)) {
    assertName('lock resource', resource);
    return [resource];
  }
  if (resource.length === 0) {
    throw new InvalidArgumentError('resources', resource, 'expected at least one resource name');
  }
  for (const name of resource) assertName('lock resource', name);
  return [...new Set(resource as string[])].sort();
}

/** Checks lock options and fills in defaults; throws InvalidArgumentError naming the option. */
export function lockSettings(options: unknown): Omit<Plan, 'resources' | 'keys'> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError('lock options', options, 'expected an object');
  }
  const given = options as WithLockOptions;
  // Only `undefined` means "the default": null and other junk reach the checks below.
  const ttlMs = given.ttlMs === undefined ? DEFAULT_LOCK_OPTIONS.ttlMs : given.ttlMs;
  const waitMs = given.waitMs === undefined ? DEFAULT_LOCK_OPTIONS.waitMs : given.waitMs;
  const fair = given.fair === undefined ? DEFAULT_LOCK_OPTIONS.fair : given.fair;
  const maxHoldMs = given.maxHoldMs;
  assertMilliseconds('ttlMs', ttlMs, { min: MIN_LOCK_TTL_MS, max: MAX_LOCK_TTL_MS });
  assertMilliseconds('waitMs', waitMs, { min: 0, max: MAX_MILLISECONDS });
  if (maxHoldMs !== undefined) {
    assertMilliseconds('maxHoldMs', maxHoldMs, { min: MIN_LOCK_TTL_MS, max: MAX_MILLISECONDS });
  }
  if (typeof fair !== 'boolean') throw new InvalidArgumentError('fair', fair, 'expected a boolean');
  const onBusy = given.onBusy;
  if (onBusy !== undefined && !['wait', 'throw', 'skip'].includes(onBusy)) {
    throw new InvalidArgumentError('onBusy', onBusy, "expected 'wait', 'throw' or 'skip'");
  }
  return { ttlMs, waitMs, fair, maxHoldMs };
}
