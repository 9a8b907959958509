import { createWrappingDecorator, type KeyedMethodDecorator } from '../common/method-wrapper.js';
import { assertName } from '../common/validate.js';
import type { WithSemaphoreOptions } from './semaphore.interfaces.js';
import { resolveSemaphoreOptions, WITH_SEMAPHORE_OPTION_NAMES } from './semaphore.options.js';
import { SemaphoreService } from './semaphore.service.js';

/** The semaphore of `@WithSemaphore`: fixed, or computed from the method's first arguments. */
export type SemaphoreName<A extends unknown[]> = string | ((...args: A) => string);

/**
 * Runs the method holding a permit of the semaphore, renewed by a watchdog while the method runs
 * (like `SemaphoreService.using()`); the method then returns a promise. Works on any provider or
 * controller method, in any order with `@Get`, `@Cron`, guards and other decorators.
 *
 * `onBusy`: `'wait'` (default, up to `waitMs`, then `SemaphoreTimeoutError`), `'throw'`
 * (`SemaphoreBusyError` at once) or `'skip'` (resolve `undefined` without running). In an HTTP
 * handler, both errors answer `409 Conflict`. Inside the method, `currentPermit()` gives the
 * permit and its `signal`.
 *
 * @example
 * \@Post('render')
 * \@WithSemaphore('pdf-render', { limit: 4, onBusy: 'throw' }) // all 4 busy → HTTP 409
 * async render(@Body() document: DocumentDto) { ... }
 *
 * \@WithSemaphore((tenant: string) => `exports:${tenant}`, { limit: 2, waitMs: 30_000 })
 * async exportFor(tenant: string) { ... }
 */
export function WithSemaphore<A extends unknown[] = []>(
  name: SemaphoreName<A>,
  options: WithSemaphoreOptions,
): KeyedMethodDecorator<A> {
  // Bad options fail when the class is defined, not at the first call.
  resolveSemaphoreOptions(options, WITH_SEMAPHORE_OPTION_NAMES);
  if (typeof name !== 'function') assertName('semaphore name', name);
  const resolve = typeof name === 'function' ? name : (): string => name;
  return createWrappingDecorator(SemaphoreService, 'WithSemaphore', (service, call) =>
    Promise.resolve()
      .then(() => resolve(...(call.args as A)))
      .then((semaphore) => service.runWithPermit(semaphore, options, call.proceed)),
  ) as KeyedMethodDecorator<A>;
}
