import { createWrappingDecorator, type KeyedMethodDecorator } from '../common/method-wrapper.js';
import type { CacheEvictOptions } from './cache.interfaces.js';
import { checkEvictOptions } from './cache.options.js';
import { CacheService } from './cache.service.js';

/**
 * After the method succeeds, evicts one cache entry (`key`, optionally in `namespace`) or, with
 * only `namespace`, invalidates the whole namespace (one `INCR`). Every instance misses from
 * then on. Nothing is evicted when the method throws. The method then returns a Promise.
 *
 * @example
 * \@CacheEvict({ namespace: 'products', key: (id: string) => `product:${id}` })
 * update(id: string, patch: ProductPatch) { ... }
 *
 * \@CacheEvict({ namespace: 'products' }) // drops every product entry
 * importCatalogue() { ... }
 */
export function CacheEvict<A extends unknown[] = []>(
  options: CacheEvictOptions<A>,
): KeyedMethodDecorator<A> {
  const wrap = createWrappingDecorator(CacheService, 'CacheEvict', (cache, call) =>
    cache.runEvict(call, options as CacheEvictOptions<unknown[]>),
  );
  return (target, propertyKey, descriptor) => {
    const site = `@CacheEvict() on ${target.constructor.name}.${String(propertyKey)}`;
    checkEvictOptions(site, options as CacheEvictOptions<unknown[]>);
    wrap(target, propertyKey, descriptor);
  };
}
