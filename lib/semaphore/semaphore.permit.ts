import { Lease, type LeaseInit } from '../common/lease.js';
import type { SemaphoreBackend } from './semaphore.backend.js';
import { PermitLostError } from './semaphore.errors.js';

/**
 * One acquisition as the service and its {@link Permit} see it, whichever backend holds it:
 * {@link HeldPermit} on Redis (a renewed lease), a ZooKeeper hold (a session-bound node).
 */
export interface PermitHold {
  readonly semaphore: string;
  readonly limit: number;
  /** Tells this acquisition apart from every other, on its backend. */
  readonly token: string;
  /** The lease asked for (what `extend()` renews to by default). */
  readonly ttlMs: number;
  /** Aborted with a {@link PermitLostError} once the permit is known to be lost. */
  readonly signal: AbortSignal;
  readonly lost: boolean;
  /** Keeps the permit while work runs (`using()`, `@WithSemaphore`), at most `maxHoldMs`. */
  startWatchdog(maxHoldMs: number | undefined): void;
  stopWatchdog(): void;
  /** Throws {@link PermitLostError} (and aborts `signal`) when no longer held. */
  extend(ttlMs: number): Promise<void>;
  /** Frees the permit if still held; idempotent. */
  release(): Promise<void>;
  /** Marks the permit lost and aborts `signal`; returns the error. */
  lose(reason: string): PermitLostError;
}

/**
 * At shutdown: marks every permit still held lost (aborting its signal), then frees it now rather
 * than when its backend would notice; each release is bounded by the backend's `atShutdown`.
 */
export async function freePermitsAtShutdown(
  held: Iterable<PermitHold>,
  atShutdown: (what: string, call: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const permits = [...held];
  for (const permit of permits) permit.lose('the application is shutting down');
  await Promise.all(
    permits.map((permit) =>
      atShutdown('freeing a semaphore permit', () => permit.release()).catch(() => undefined),
    ),
  );
}

/** Everything a {@link HeldPermit} starts from. */
export interface HeldPermitInit extends LeaseInit<PermitHold> {
  readonly backend: SemaphoreBackend;
  /** The backend's handle on the semaphore. */
  readonly where: unknown;
  readonly semaphore: string;
  readonly limit: number;
  readonly token: string;
}

/** One permit taken on Redis: its lease (renewal, expiry, `signal`) is kept by {@link Lease}. */
export class HeldPermit extends Lease<PermitLostError> implements PermitHold {
  readonly semaphore: string;
  readonly limit: number;
  readonly token: string;
  private readonly backend: SemaphoreBackend;
  private readonly where: unknown;

  constructor(init: HeldPermitInit) {
    super(init);
    this.backend = init.backend;
    this.where = init.where;
    this.semaphore = init.semaphore;
    this.limit = init.limit;
    this.token = init.token;
  }

  protected renewLease(ttlMs: number): Promise<boolean> {
    return this.backend.extend(this.where, this.token, ttlMs);
  }

  protected freeLease(): Promise<void> {
    return this.backend.release(this.where, this.token);
  }

  protected lostError(reason: string, cause?: unknown): PermitLostError {
    return new PermitLostError(this.semaphore, reason, cause ? { cause } : undefined);
  }
}

/**
 * One permit of a semaphore. Release it (or let `await using` do it); work that must not outlive
 * the permit watches `signal`.
 *
 * @example
 * await using permit = await semaphores.acquire('pdf-render', { limit: 4, ttlMs: 30_000 });
 * await render(document, { signal: permit.signal });
 */
export class Permit implements AsyncDisposable {
  /** @internal */
  constructor(/** @internal */ readonly held: PermitHold) {}

  /** The semaphore's name. */
  get semaphore(): string {
    return this.held.semaphore;
  }

  /** The semaphore's number of permits, as this acquisition gave it. */
  get limit(): number {
    return this.held.limit;
  }

  /**
   * Aborted, with a {@link PermitLostError} as reason, as soon as this process knows the permit
   * is lost: a bit before Redis would hand it to someone else; on ZooKeeper, the moment the
   * connection is suspended.
   */
  get signal(): AbortSignal {
    return this.held.signal;
  }

  /** True once the permit is known to be lost. */
  get lost(): boolean {
    return this.held.lost;
  }

  /**
   * Sets the lease to `ttlMs` from now (on ZooKeeper: checks that the permit's node is still
   * there). Throws {@link PermitLostError} if the permit is no longer held (and aborts `signal`).
   */
  extend(ttlMs: number = this.held.ttlMs): Promise<void> {
    return this.held.extend(ttlMs);
  }

  /** Frees the permit, waking the next waiter. Idempotent; never frees another holder's permit. */
  release(): Promise<void> {
    return this.held.release();
  }

  /** `await using permit = await semaphores.acquire(...)` releases at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
