import { performance } from 'node:perf_hooks';
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { RedisConnectionError } from '../connection/connection.errors.js';
import { RedisConnections, SHUTDOWN_WAIT_MS } from '../connection/redis-connections.js';
import { assertName } from '../common/validate.js';
import { waitAtMost } from '../common/within.js';
import { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import type { SemaphoreBackend } from './semaphore.backend.js';
import { permitContext } from './semaphore.context.js';
import {
  SemaphoreBusyError,
  SemaphoreLimitMismatchError,
  SemaphoreTimeoutError,
} from './semaphore.errors.js';
import type { SemaphoreOptions, WithSemaphoreOptions } from './semaphore.interfaces.js';
import {
  resolveSemaphoreOptions,
  SEMAPHORE_OPTION_NAMES,
  WITH_SEMAPHORE_OPTION_NAMES,
  type ResolvedSemaphoreOptions,
} from './semaphore.options.js';
import { freePermitsAtShutdown, HeldPermit, Permit, type PermitHold } from './semaphore.permit.js';
import { SemaphoreStore } from './semaphore.store.js';
import { SemaphoreWaiter, type PermitRequest } from './semaphore-waiter.js';
import { ZooKeeperSemaphores } from './zookeeper-semaphore.recipe.js';

/**
 * Counting semaphores on Redis: at most `limit` holders of a named semaphore at once, across
 * every instance. Permits are leases, so a crashed holder's permit comes back when its lease
 * ends; `using()` and `@WithSemaphore` renew it while the work runs. Waiters are served first
 * come, first served, and woken by releases (pub/sub), polling only as a fallback.
 *
 * With `backend: 'zookeeper'` (per call, or the module option `semaphores.backend`) permits are
 * ephemeral nodes instead, held as long as the holder's ZooKeeper session
 * (zookeeper-semaphore.recipe.ts); the API is the same.
 *
 * @example
 * constructor(private readonly semaphores: SemaphoreService) {}
 *
 * render(document: Document) {
 *   return this.semaphores.using('pdf-render', { limit: 4, waitMs: 5_000 }, (signal) =>
 *     this.renderer.render(document, { signal }),
 *   );
 * }
 */
@Injectable()
export class SemaphoreService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('SemaphoreService');
  private readonly backend: SemaphoreBackend;
  /** Permits held right now (one leaves the set once released or lost), freed at shutdown. */
  private readonly held = new Set<PermitHold>();
  private readonly zookeeper: ZooKeeperSemaphores;

  constructor(
    private readonly connections: RedisConnections,
    zookeeper: ZooKeeperConnection,
  ) {
    this.backend = new SemaphoreStore(connections);
    this.zookeeper = new ZooKeeperSemaphores(zookeeper);
  }

  /**
   * Takes a permit of the semaphore `name`, waiting up to `waitMs` for one to come free.
   *
   * Throws {@link SemaphoreTimeoutError} if none came free within `waitMs`,
   * {@link SemaphoreLimitMismatchError} if the semaphore is in use with another `limit`,
   * `RedisConnectionError` if Redis cannot be reached, `InvalidKeyError`/`InvalidArgumentError`
   * for bad input. The permit is not renewed: keep `ttlMs` above the work's duration, call
   * `extend()`, or use {@link using}.
   *
   * @example
   * const permit = await semaphores.acquire('pdf-render', { limit: 4, ttlMs: 30_000, waitMs: 5_000 });
   * try { await render(permit.signal); } finally { await permit.release(); }
   */
  acquire(name: string, options: SemaphoreOptions): Promise<Permit> {
    return this.take(name, options, SEMAPHORE_OPTION_NAMES, true) as Promise<Permit>;
  }

  /** Takes a permit if one is free right now; `null` if none is. Never waits. */
  tryAcquire(name: string, options: Omit<SemaphoreOptions, 'waitMs'>): Promise<Permit | null> {
    return this.take(name, { ...options, waitMs: 0 }, SEMAPHORE_OPTION_NAMES, false);
  }

  /**
   * Runs `work` holding a permit, renewing its lease about every ttl/3 while `work` runs, and
   * releases it afterwards. `signal` aborts with `PermitLostError` if a renewal finds the permit
   * gone or cannot reach Redis before the lease would end. Inside `work`, `currentPermit()` gives
   * the permit too (through any number of awaits).
   *
   * @example
   * const pdf = await semaphores.using('pdf-render', { limit: 4 }, (signal) => render(doc, signal));
   */
  async using<T>(
    name: string,
    options: SemaphoreOptions,
    work: (signal: AbortSignal, permit: Permit) => Promise<T> | T,
  ): Promise<T> {
    const permit = (await this.take(name, options, SEMAPHORE_OPTION_NAMES, true)) as Permit;
    return this.runHolding(permit, options.maxHoldMs, () => work(permit.signal, permit));
  }

  /**
   * How many of the semaphore's `limit` permits are not held right now (by anyone, this process
   * included). Waiters in line may take them first. Only `limit` and `backend` count here; the
   * other options are accepted (and checked) so that one options object serves every call. Throws
   * {@link SemaphoreLimitMismatchError} if the semaphore is in use with another limit.
   */
  async available(name: string, options: SemaphoreOptions): Promise<number> {
    const resolved = resolveSemaphoreOptions(options);
    const { limit } = resolved;
    const reply =
      this.backendOf(resolved) === 'zookeeper'
        ? await this.zookeeper.count(checkedName(name), limit)
        : await this.backend.count(this.backend.locate(name), limit);
    if (reply.status === 'mismatch') {
      throw new SemaphoreLimitMismatchError(name, limit, reply.limitInUse);
    }
    return Math.max(0, limit - reply.held);
  }

  /**
   * Runs `work` holding a permit as `@WithSemaphore` does, applying its `onBusy` policy.
   * @internal
   */
  async runWithPermit(
    name: string,
    options: WithSemaphoreOptions,
    work: () => unknown,
  ): Promise<unknown> {
    const onBusy = options.onBusy ?? 'wait';
    const permit = await this.take(name, options, WITH_SEMAPHORE_OPTION_NAMES, onBusy === 'wait');
    if (!permit) {
      if (onBusy === 'skip') return undefined;
      throw new SemaphoreBusyError(name, options.limit);
    }
    return this.runHolding(permit, options.maxHoldMs, work);
  }

  /** Loses (aborting their signals) and frees every permit still held, so peers need not wait out the lease. */
  async beforeApplicationShutdown(): Promise<void> {
    // Freed now rather than at the end of their leases (which free them if Redis is unreachable).
    await freePermitsAtShutdown(this.held, (what, call) => this.connections.atShutdown(what, call));
    // Bounded: with ZooKeeper down, its calls would wait out their timeout.
    await Promise.all([this.backend.close(), waitAtMost(this.zookeeper.close(), SHUTDOWN_WAIT_MS)]);
  }

  private backendOf(options: ResolvedSemaphoreOptions): CoordinationBackend {
    return options.backend ?? this.connections.semaphoreBackend;
  }

  private async runHolding<T>(
    permit: Permit,
    maxHoldMs: number | undefined,
    work: () => Promise<T> | T,
  ): Promise<T> {
    permit.held.startWatchdog(maxHoldMs);
    try {
      return await permitContext.run(permit, work);
    } finally {
      permit.held.stopWatchdog();
      await permit.release().catch((error: unknown) =>
        // The lease frees it anyway; the work's own result or error matters more.
        this.logger.warn(
          `Could not release a permit of semaphore ${permit.semaphore}: ${this.connections.redact(String(error))}; it frees itself when its lease ends`,
        ),
      );
    }
  }

  /**
   * Takes a permit per `options` (of `names`), waiting when `wait` and `waitMs` allow; `wait`
   * false returns null at once when none is free.
   */
  private async take(
    name: string,
    given: SemaphoreOptions,
    names: readonly string[],
    wait: boolean,
  ): Promise<Permit | null> {
    const options = resolveSemaphoreOptions(given, names);
    if (this.backendOf(options) === 'zookeeper') return this.takeOnZooKeeper(name, options, wait);
    const where = this.backend.locate(name);
    const token = this.backend.newToken();
    const { limit, ttlMs } = options;
    const waits = wait && options.waitMs > 0;
    const sentAt = performance.now();
    const first = await this.backend
      .acquire(where, token, limit, ttlMs, waits)
      .catch((error: unknown) => {
        // No reply, yet Redis may run it: undo whatever it takes, off the caller's path.
        if (error instanceof RedisConnectionError) void this.backend.abandon(where, token, ttlMs);
        throw error;
      });
    if (first.status === 'taken') return this.hold(name, where, token, options, sentAt);
    if (first.status === 'mismatch') {
      throw new SemaphoreLimitMismatchError(name, limit, first.limitInUse);
    }
    if (!waits) {
      if (wait) throw new SemaphoreTimeoutError(name, limit, 0);
      return null;
    }
    const request: PermitRequest = { ...options, semaphore: name, where, token };
    const acquiredAt = await new SemaphoreWaiter(this.backend, request, sentAt, first).acquire();
    return this.hold(name, where, token, options, acquiredAt);
  }

  private async takeOnZooKeeper(
    name: string,
    options: ResolvedSemaphoreOptions,
    wait: boolean,
  ): Promise<Permit | null> {
    const { limit, ttlMs, waitMs } = options;
    const hold = await this.zookeeper.acquire(checkedName(name), limit, ttlMs, wait ? waitMs : 0);
    if (hold) return new Permit(hold);
    if (wait) throw new SemaphoreTimeoutError(name, limit, waitMs);
    return null;
  }

  private hold(
    name: string,
    where: unknown,
    token: string,
    options: ResolvedSemaphoreOptions,
    acquiredAt: number,
  ): Permit {
    return new Permit(
      new HeldPermit({
        backend: this.backend,
        tracker: this.held,
        where,
        semaphore: name,
        limit: options.limit,
        token,
        ttlMs: options.ttlMs,
        acquiredAt,
      }),
    );
  }
}

/** The semaphore's name, checked as the Redis backend checks it (InvalidKeyError). */
function checkedName(name: string): string {
  assertName('semaphore name', name);
  return name;
}
