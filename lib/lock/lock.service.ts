import { performance } from 'node:perf_hooks';
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { lockContext, type LockFrame } from './lock.context.js';
import {
  describeResources,
  LockBusyError,
  LockTimeoutError,
  LockUpgradeError,
} from './lock.errors.js';
import { HeldLock, Lock, type LockHold } from './lock.handle.js';
import type { LockOptions, WithLockOptions } from './lock.interfaces.js';
import {
  resolveLockOptions,
  resourceNames,
  WITH_LOCK_OPTION_NAMES,
  IS_LOCKED_OPTION_NAMES,
  type LockRequest,
} from './lock.options.js';
import { LockStore, type AckedAcquire } from './lock.store.js';
import {
  unconfirmedWrite,
  type ReplicaAckOptions,
  type ReplicaConfirmation,
} from '../connection/replica-acks.js';
import { HANDOVER_LEASE_MS, LockWaiter, type GrantedLock } from './lock-waiter.js';
import { ReleaseNotifier } from '../connection/release-notifier.js';
import { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { ZooKeeperLocks } from './zookeeper-lock.recipe.js';
import { waitAtMost } from '../common/within.js';
import { renewalDueAt } from '../common/lease.js';
import { tracedAcquire } from './lock.telemetry.js';
import { telemetryOf, type Telemetry } from '../telemetry/telemetry.js';

/**
 * Distributed locks on Redis with fencing tokens, a renewing watchdog, pub/sub wake-ups,
 * anti-starvation (optionally strict FIFO) and reentrancy within a `using()` call chain. A lock
 * is taken for writing (one holder) or, with `mode: 'read'`, for reading (shared by readers; a
 * waiting writer keeps new readers out).
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
  private readonly store: LockStore;
  private readonly notifier: ReleaseNotifier;
  /** Locks held right now (a lock leaves the set once released or lost), freed at shutdown. */
  private readonly held = new Set<LockHold>();

  private readonly zookeeper: ZooKeeperLocks;

  /** With the module option `telemetry`: spans and metrics of acquires and holds. */
  private readonly telemetry?: Telemetry;

  constructor(
    private readonly connections: RedisConnections,
    zookeeper: ZooKeeperConnection,
  ) {
    this.telemetry = telemetryOf(connections);
    this.store = new LockStore(connections);
    this.notifier = new ReleaseNotifier(connections);
    this.zookeeper = new ZooKeeperLocks(zookeeper, this.held);
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

  /**
   * True if any of the resources is locked right now (by anyone, this process included), for
   * reading or writing, on `backend` (default: the module's).
   */
  async isLocked(
    resource: string | readonly string[],
    options: Pick<LockOptions, 'backend'> = {},
  ): Promise<boolean> {
    const resources = resourceNames(resource);
    const { backend = this.connections.lockBackend } = resolveLockOptions(
      options,
      IS_LOCKED_OPTION_NAMES,
    );
    if (backend === 'zookeeper') return this.zookeeper.isLocked(resources);
    return this.store.isLocked(resources, this.store.keysOf(resources));
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
    const lock = await this.take(
      resource,
      wait ? options : { ...options, waitMs: 0 },
      wait,
      WITH_LOCK_OPTION_NAMES,
    );
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
    // Bounded: with ZooKeeper down, its calls would wait out their timeout.
    await Promise.all([this.notifier.close(), waitAtMost(this.zookeeper.close(), 1000)]);
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

  private request(
    resource: unknown,
    options: LockOptions,
    names: readonly string[] | undefined,
  ): LockRequest {
    const { backend, mode, ttlMs, waitMs, fair, maxHoldMs, replicaAcks } = resolveLockOptions(
      options,
      names,
    );
    const resources = resourceNames(resource);
    const chosen = backend ?? this.connections.lockBackend;
    if (chosen === 'zookeeper' && replicaAcks) {
      throw new InvalidArgumentError(
        'replicaAcks',
        replicaAcks,
        'applies to locks on Redis: a ZooKeeper lock is confirmed by a quorum of the ensemble already',
      );
    }
    // Spelled out: spreading the options object here cost more than the rest of acquire's client work.
    return {
      resources,
      keys: this.store.keysOf(resources),
      backend: chosen,
      mode,
      ttlMs,
      waitMs,
      fair,
      maxHoldMs,
      acks: chosen === 'redis' ? this.connections.replicaAcks(replicaAcks) : undefined,
    };
  }

  /** Acquires per `options` (of `names`); `wait` false returns null at once when busy. */
  private take(
    resource: unknown,
    options: LockOptions,
    wait: boolean,
    names?: readonly string[],
  ): Promise<Lock | null> {
    const { telemetry } = this;
    if (!telemetry) return this.takeLock(resource, options, wait, names);
    return tracedAcquire(telemetry, resource, () => this.takeLock(resource, options, wait, names));
  }

  private async takeLock(
    resource: unknown,
    options: LockOptions,
    wait: boolean,
    names?: readonly string[],
  ): Promise<Lock | null> {
    const request = this.request(resource, options, names);
    const reentered = this.reenter(request);
    if (reentered) return reentered;
    if (request.backend === 'zookeeper') return this.takeOnZooKeeper(request, wait);
    const { resources, keys, mode, ttlMs, fair, acks } = request;
    // A single-resource writer may be handed the lock by its releaser (see LockStore.newToken),
    // unless it waits for replicas: the releaser's write is not one its WAIT would count.
    const token =
      mode === 'read'
        ? this.store.newReadToken()
        : this.store.newToken(
            resources.length === 1 && !acks ? Math.min(ttlMs, HANDOVER_LEASE_MS) : undefined,
          );
    const acked: AckedAcquire | undefined = acks && {
      client: await this.connections.acknowledging(),
      acks,
    };
    const waits = wait && request.waitMs > 0;
    const sentAt = performance.now();
    const first = await this.store.acquire(
      resources,
      keys,
      token,
      ttlMs,
      mode,
      { join: waits, fair, queued: false },
      acked,
    );
    if (first.taken) {
      if (acks) await this.confirmReplicas(request, acks, token, first.confirmation);
      return this.hold(request, token, {
        fences: first.fences,
        acquiredAt: sentAt,
        leaseMs: ttlMs,
      });
    }
    if (!waits) {
      if (wait) throw new LockTimeoutError(resources, 0);
      return null;
    }
    const waiter = new LockWaiter(request, token, this.store, this.notifier, sentAt, first, acked);
    const granted = await waiter.acquire();
    if (acks) await this.confirmReplicas(request, acks, token, granted.confirmation);
    return this.hold(request, token, granted);
  }

  /**
   * Frees a lock just taken and throws {@link ReplicaAckError} unless enough replicas confirmed
   * the acquire: the caller must not work under a lock that a failover could grant again. The
   * acquire has run (its reply came), so the release may go on the command connection, which
   * does not wait behind other writes' WAIT.
   */
  private async confirmReplicas(
    request: LockRequest,
    acks: ReplicaAckOptions,
    token: string,
    confirmation: ReplicaConfirmation | undefined,
  ): Promise<void> {
    const { resources, keys, ttlMs, mode } = request;
    const error = unconfirmedWrite(
      this.connections,
      acks,
      confirmation,
      `Lock ${describeResources(resources)}`,
      'it was freed again, so the caller does not hold it; retry once the replicas catch up, or lower replicaAcks.replicas',
    );
    if (!error) return;
    await this.store.abandon(resources, keys, token, ttlMs, mode);
    throw error;
  }

  private async takeOnZooKeeper(request: LockRequest, wait: boolean): Promise<Lock | null> {
    const hold = await this.zookeeper.acquire(request, wait ? request.waitMs : 0);
    if (hold) return new Lock(hold, true);
    if (wait) throw new LockTimeoutError(request.resources, request.waitMs);
    return null;
  }

  private hold(request: LockRequest, token: string, granted: GrantedLock): Lock {
    const held = new HeldLock({
      store: this.store,
      tracker: this.held,
      resources: request.resources,
      keys: request.keys,
      mode: request.mode,
      token,
      fencingTokens: granted.fences,
      ttlMs: request.ttlMs,
      acquiredAt: granted.acquiredAt,
      initialLeaseMs: granted.leaseMs,
    });
    // A lock handed over with a short lease is extended to ttlMs a third into that lease, off
    // the hand-over path; a failure aborts the signal (or the short lease runs out).
    if (granted.leaseMs < request.ttlMs) {
      held.scheduleTopUp(renewalDueAt(granted.acquiredAt, granted.leaseMs));
    }
    return new Lock(held, true);
  }

  /**
   * Inside a `using()`/`@WithLock` chain holding every resource requested (for writing, or for
   * reading when the request reads): a reentrant handle.
   */
  private reenter(request: LockRequest): Lock | undefined {
    const innermost = lockContext.getStore();
    if (!innermost) return undefined;
    const heldByChain = new Set<string>();
    for (let frame: LockFrame | undefined = innermost; frame; frame = frame.parent) {
      if (frame.owner !== this || frame.held.isReleased || frame.held.lost) continue;
      const holds = new Set(frame.held.resources);
      if (request.resources.every((name) => holds.has(name))) {
        if (frame.held.mode === 'read' && request.mode === 'write') {
          // Waiting for the write lock would wait for this chain's own read hold.
          throw new LockUpgradeError(request.resources);
        }
        return new Lock(frame.held, false);
      }
      for (const name of holds) heldByChain.add(name);
    }
    const overlap = request.resources.filter((name) => heldByChain.has(name));
    if (overlap.length > 0) {
      // Taking them all again would wait on our own lock until waitMs.
      throw new InvalidArgumentError(
        'resources',
        request.resources,
        `this call chain already holds ${overlap.join(', ')}: lock only the others here, or take them all at the outer level`,
      );
    }
    return undefined;
  }
}
