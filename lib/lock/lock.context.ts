import { AsyncLocalStorage } from 'node:async_hooks';
import type { Lock, LockHold } from './lock.handle.js';

/** One `using()`/`@WithLock` level of the current call chain. */
export interface LockFrame {
  /** The service (so one app's Redis) that holds the lock. */
  readonly owner: object;
  readonly held: LockHold;
  readonly lock: Lock;
  readonly parent: LockFrame | undefined;
}

/**
 * The locks held by the current call chain. It stores only per-call frames (no clients, no
 * app state), and each frame names its service, so two apps in one process never share a lock.
 */
export const lockContext = new AsyncLocalStorage<LockFrame>();

/**
 * The innermost lock held by the running `using()` callback or `@WithLock` method (through any
 * number of awaits), or `undefined` outside one.
 *
 * @example
 * \@WithLock('nightly-report')
 * async buildReport() {
 *   const { signal, fencingToken } = currentLock()!;
 *   await this.store.save(await this.compute(signal), fencingToken);
 * }
 */
export function currentLock(): Lock | undefined {
  return lockContext.getStore()?.lock;
}
