import { LinkedList, type Linked } from '../common/linked-list.js';
import { isConnectionFailure, RedisConnectionError } from './connection.errors.js';
import type { RedisConnections } from './redis-connections.js';

/** How long a call may wait for Redis, and how long Redis is skipped after it failed. */
export interface CircuitBreakerSettings {
  /** A call with no reply after this many ms is given up. */
  readonly timeoutMs: number;
  /** After a connection failure, {@link CircuitBreaker.isOpen} holds this many ms at most. */
  readonly retryAfterMs: number;
}

/** A call awaiting Redis. */
interface PendingCall extends Linked<PendingCall> {
  readonly startedAt: number;
  /** What the call does, for the error that gives it up. */
  readonly what: string;
  readonly fail: (error: unknown) => void;
}

/**
 * The policy for a call that must not wait on a Redis that is down, for work that can go on
 * without Redis (a cache calls the method through instead):
 *
 * - {@link call} sends nothing while the command connection is not ready (ioredis's offline queue
 *   would hold the command until a reconnect) and gives up a call without a reply after
 *   `timeoutMs` (a frozen server). Both, and a call failing because the connection did, fail
 *   with a {@link RedisConnectionError} saying what could not be done (the shared
 *   `RedisConnections.failure` mapping); any other error is passed on as it is.
 * - {@link trip} on a connection failure opens the breaker: {@link isOpen} tells callers to skip
 *   Redis for `retryAfterMs`. The connection turning ready, or a late reply to a call given up,
 *   closes it sooner: Redis is answering again.
 *
 * One watchdog timer serves every call in flight, and a call's continuations run in its one
 * promise: a call costs little more than its command.
 */
export class CircuitBreaker {
  /**
   * Calls awaiting Redis, oldest first. A linked list rather than a Set: one entry per cache
   * hit, and with a Set the `cache` bench's hits fell from 0.94 to 0.85 of raw ioredis (1 in
   * flight) and from 1.48 to 1.02 (64 in flight), one run each on a shared machine.
   */
  private readonly pending = new LinkedList<PendingCall>();
  private watchdog: NodeJS.Timeout | undefined;
  private openUntil = 0;

  constructor(
    private readonly connections: Pick<RedisConnections, 'command' | 'target' | 'failure'>,
    private readonly settings: CircuitBreakerSettings,
  ) {
    connections.command.on('ready', () => {
      this.openUntil = 0;
    });
  }

  /** Whether Redis failed less than `retryAfterMs` ago (and has not answered since). */
  get isOpen(): boolean {
    // Cheap in the common case: no failure, no clock read.
    return this.openUntil !== 0 && Date.now() < this.openUntil;
  }

  /** Opens the breaker if `error` says Redis is down; returns whether it did. */
  trip(error: unknown): boolean {
    if (!isConnectionFailure(error)) return false;
    this.openUntil = Date.now() + this.settings.retryAfterMs;
    return true;
  }

  /**
   * Runs `start` if the command connection is ready, bounded by `timeoutMs`, and settles with
   * `onValue(result)` or `onError(error)` when given. `what` completes "Could not …" in the
   * error of a call skipped or given up (e.g. `read a cache entry`). Whether the breaker is open
   * is the caller's choice to check: a call that must report the outage tries anyway.
   */
  call<T, R = T>(
    what: string,
    start: () => Promise<T>,
    onValue?: (value: T) => R | PromiseLike<R>,
    onError?: (error: unknown) => R | PromiseLike<R>,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const settle = (outcome: () => R | PromiseLike<R>) => {
        try {
          resolve(outcome());
        } catch (error) {
          reject(error as Error);
        }
      };
      const fail = onError ? (error: unknown) => settle(() => onError(error)) : reject;
      if (this.connections.command.status !== 'ready') {
        fail(this.unavailable(what, 'the command connection is not ready'));
        return;
      }
      const pending: PendingCall = {
        startedAt: Date.now(),
        what,
        fail,
        listPrevious: undefined,
        listNext: undefined,
      };
      this.pending.append(pending);
      this.watchdog ??= setInterval(() => this.expire(), this.settings.timeoutMs / 4).unref();
      // Attached straight to what `start()` returns: when that is the command's own promise,
      // this runs before anything that awaited a command sent later, so after a freeze the
      // late reply closes the breaker before the next caller looks.
      start().then(
        (value) => {
          if (!this.pending.delete(pending))
            this.openUntil = 0; // given up: Redis is back
          else if (onValue) settle(() => onValue(value));
          else resolve(value as unknown as R);
        },
        (error: unknown) => {
          if (this.pending.delete(pending)) fail(this.connections.failure(error, what));
        },
      );
    });
  }

  /** Stops the watchdog (at shutdown); calls still in flight settle as Redis answers. */
  close(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** Gives up calls older than the timeout; stops the watchdog when none is left. */
  private expire(): void {
    const expired = Date.now() - this.settings.timeoutMs;
    for (const pending of this.pending) {
      if (pending.startedAt > expired) break;
      this.pending.delete(pending);
      pending.fail(this.unavailable(pending.what, `no reply within ${this.settings.timeoutMs} ms`));
    }
    if (this.pending.size === 0) this.close();
  }

  private unavailable(what: string, reason: string): RedisConnectionError {
    return new RedisConnectionError(this.connections.target, `Could not ${what}: ${reason}`);
  }
}
