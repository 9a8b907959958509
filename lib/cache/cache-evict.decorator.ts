import { createWrappingDecorator, type KeyedMethodDecorator } from '../common/method-wrapper.js';
import { CacheOptionsError } from './cache.errors.js';
import type { CacheEvictOptions } from './cache.interfaces.js';
import { CacheService, checkName } from './cache.service.js';
import { checkKeyOption } from './cached.decorator.js';

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
    if (typeof options !== 'object' || options === null) {
      throw new CacheOptionsError(site, 'expected an options object with namespace and/or key');
    }
    if (options.namespace === undefined && options.key === undefined) {
      throw new CacheOptionsError(site, 'give a key, a namespace, or both');
    }
    checkName(site, 'namespace', options.namespace);
    checkKeyOption(site, options.key);
    wrap(target, propertyKey, descriptor);
  };
}
