import { createWrappingDecorator, type KeyedMethodDecorator } from '../common/method-wrapper.js';
import { assertName } from '../common/validate.js';
import type { WithLockOptions } from './lock.interfaces.js';
import { resolveLockOptions, WITH_LOCK_OPTION_NAMES } from './lock.options.js';
import { RedisLockService } from './lock.service.js';

/** The lock resource(s) of `@WithLock`: fixed, or computed from the method's first arguments. */
export type LockResource<A extends unknown[]> =
  string | readonly string[] | ((...args: A) => string | readonly string[]);

/**
 * Runs the method holding a Redis lock, renewed by a watchdog while the method runs (like
 * `RedisLockService.using()`); the method then returns a promise. Works on any provider or
 * controller method, in any order with `@Get`, `@Cron`, guards and other decorators.
 *
 * `onBusy`: `'wait'` (default, up to `waitMs`, then `LockTimeoutError`), `'throw'`
 * (`LockBusyError` at once) or `'skip'` (resolve `undefined` without running). In an HTTP
 * handler, both errors answer `409 Conflict`. Inside the method, `currentLock()` gives the lock
 * and its `signal`; calls to other locked methods on the same resource reenter the lock.
 *
 * @example
 * \@Cron('0 * * * *')
 * \@WithLock('hourly-report', { onBusy: 'skip', ttlMs: 30_000 })
 * async hourlyReport() { ... }
 *
 * \@Post(':id/pay')
 * \@WithLock((id: string) => `order:${id}`, { waitMs: 2_000 })
 * async pay(@Param('id') id: string) { ... }
 */
export function WithLock<A extends unknown[] = []>(
  resource: LockResource<A>,
  options: WithLockOptions = {},
): KeyedMethodDecorator<A> {
  // Bad options fail when the class is defined, not at the first call.
  resolveLockOptions(options, WITH_LOCK_OPTION_NAMES);
  if (typeof resource === 'string') assertName('lock resource', resource);
  const resolve =
    typeof resource === 'function' ? resource : (): string | readonly string[] => resource;
  return createWrappingDecorator(RedisLockService, 'WithLock', (service, call) =>
    Promise.resolve()
      .then(() => resolve(...(call.args as A)))
      .then((names) => service.runExclusive(names, options, call.proceed)),
  ) as KeyedMethodDecorator<A>;
}
