import { AsyncLocalStorage } from 'node:async_hooks';
import type { Permit } from './semaphore.permit.js';

/**
 * The permit a running `using()` callback or `@WithSemaphore` method holds. It stores only
 * per-call values (no clients, no app state), so two apps in one process never share one.
 */
export const permitContext = new AsyncLocalStorage<Permit>();

/**
 * The innermost permit held by the running `using()` callback or `@WithSemaphore` method
 * (through any number of awaits), or `undefined` outside one. Its `signal` aborts with
 * `PermitLostError` when the permit is lost.
 *
 * @example
 * \@WithSemaphore('pdf-render', { limit: 4 })
 * async render(html: string) {
 *   const { signal } = currentPermit()!;
 *   return this.renderer.render(html, { signal });
 * }
 */
export function currentPermit(): Permit | undefined {
  return permitContext.getStore();
}
