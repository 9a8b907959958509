import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * `@Cached()`/`@CacheEvict()` or a `CacheService` call was given options it cannot use
 * (negative TTL, a key that is neither a string nor a function, a key over the length limit…).
 * Decorator options are checked when the class is defined, so the app fails at start-up.
 */
export class CacheOptionsError extends RedisCoordinationError {
  constructor(
    /** Where the options were given, e.g. `@Cached() on ProductService.find`. */
    readonly site: string,
    readonly problem: string,
  ) {
    super('CACHE_OPTIONS', `Invalid options for ${site}: ${problem}`);
  }
}
