import { createWrappingDecorator, type KeyedMethodDecorator } from '../common/method-wrapper.js';
import type { CachedOptions } from './cache.interfaces.js';
import {
  CACHED_OPTION_NAMES,
  checkKeyOption,
  resolveFillOptions,
  type FillOptions,
} from './cache.options.js';
import { CacheService } from './cache.service.js';

/**
 * Caches a method's result in Redis for `ttlMs`, shared by every instance of the app. Works on
 * providers and controllers (also with `@Get()` in either order); the method then returns a
 * Promise. Concurrent misses run the method once per process, and once across instances
 * while the lease holder computes (see `CacheService.wrap`). Errors are not cached; results
 * the codec cannot encode are returned uncached, with one warning per key. When Redis is
 * unreachable the method is called through.
 *
 * Options are checked when the class is defined: a bad TTL, key or namespace fails start-up
 * with a {@link CacheOptionsError}.
 *
 * @example
 * \@Injectable()
 * class ProductService {
 *   \@Cached({ ttlMs: 60_000 }) // key: ProductService.list + hash of the arguments
 *   list(filter: { tag?: string }) { ... }
 *
 *   \@Cached({ ttlMs: 60_000, namespace: 'products', key: (id: string) => `product:${id}` })
 *   find(id: string) { ... }
 * }
 */
export function Cached<A extends unknown[] = []>(
  options: CachedOptions<A>,
): KeyedMethodDecorator<A> {
  const wrap = createWrappingDecorator(CacheService, 'Cached', (cache, call) =>
    cache.runCached(call, options as CachedOptions<unknown[]>, fill),
  );
  let fill: FillOptions;
  return (target, propertyKey, descriptor) => {
    const site = `@Cached() on ${target.constructor.name}.${String(propertyKey)}`;
    fill = resolveFillOptions(site, options as CachedOptions<unknown[]>, CACHED_OPTION_NAMES);
    checkKeyOption(site, options.key);
    wrap(target, propertyKey, descriptor);
  };
}
