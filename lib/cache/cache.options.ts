import { InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertKnownKeys,
  assertMilliseconds,
  assertName,
  optionNames,
} from '../common/validate.js';
import { CacheOptionsError } from './cache.errors.js';
import type {
  CachedOptions,
  CacheEntryOptions,
  CacheEvictOptions,
  CacheWrapOptions,
} from './cache.interfaces.js';

/** The defaults of {@link CacheWrapOptions}. */
export const DEFAULT_CACHE_OPTIONS: Readonly<
  Required<Pick<CacheWrapOptions, 'leaseMs' | 'cacheNull'>>
> = Object.freeze({
  leaseMs: 10_000,
  cacheNull: false,
});

/**
 * How long one cache operation may take before the call goes through to the method: the
 * command connection queues commands while Redis is unreachable, and a cache must not make a
 * method slower than no cache.
 */
export const CACHE_OP_TIMEOUT_MS = 1000;
/**
 * After Redis failed, calls skip the cache this long before trying it again (less when the
 * connection reports ready or a late reply arrives first).
 */
export const RETRY_AFTER_MS = 1000;

const WRAP_OPTION_NAMES = optionNames<CacheWrapOptions>({
  ttlMs: true,
  namespace: true,
  cacheNull: true,
  leaseMs: true,
});
export const CACHED_OPTION_NAMES = optionNames<CachedOptions>({
  ttlMs: true,
  namespace: true,
  cacheNull: true,
  leaseMs: true,
  key: true,
});
const ENTRY_OPTION_NAMES = optionNames<CacheEntryOptions>({ namespace: true });
const SET_OPTION_NAMES = optionNames<CacheEntryOptions & { ttlMs: number }>({
  namespace: true,
  ttlMs: true,
});
const EVICT_OPTION_NAMES = optionNames<CacheEvictOptions>({ namespace: true, key: true });

/** `wrap()`/`@Cached()` options after validation, defaults filled in. */
export interface FillOptions {
  readonly ttlMs: number;
  readonly cacheNull: boolean;
  readonly leaseMs: number;
}

/**
 * Checks `wrap()`/`@Cached()` options (`names`: those the site takes) and applies the defaults.
 * @throws CacheOptionsError naming `site` and the field.
 */
export function resolveFillOptions(
  site: string,
  options: CacheWrapOptions,
  names: readonly string[] = WRAP_OPTION_NAMES,
): FillOptions {
  if (typeof options !== 'object' || options === null) {
    throw new CacheOptionsError(site, 'expected an options object with ttlMs');
  }
  asOptionsError(site, '', () => assertKnownKeys('options', options, names));
  const {
    ttlMs,
    cacheNull = DEFAULT_CACHE_OPTIONS.cacheNull,
    leaseMs = DEFAULT_CACHE_OPTIONS.leaseMs,
    namespace,
  } = options;
  asOptionsError(site, '', () => {
    assertMilliseconds('ttlMs', ttlMs, { min: 1 });
    assertMilliseconds('leaseMs', leaseMs, { min: 1 });
  });
  if (typeof cacheNull !== 'boolean') {
    throw new CacheOptionsError(site, `cacheNull must be a boolean, got ${String(cacheNull)}`);
  }
  checkName(site, 'namespace', namespace);
  return { ttlMs, cacheNull, leaseMs };
}

/**
 * Checks `@CacheEvict()` options: a key, a namespace, or both.
 * @throws CacheOptionsError naming `site` and the field.
 */
export function checkEvictOptions(site: string, options: CacheEvictOptions<unknown[]>): void {
  if (typeof options !== 'object' || options === null) {
    throw new CacheOptionsError(site, 'expected an options object with namespace and/or key');
  }
  asOptionsError(site, '', () => assertKnownKeys('options', options, EVICT_OPTION_NAMES));
  if (options.namespace === undefined && options.key === undefined) {
    throw new CacheOptionsError(site, 'give a key, a namespace, or both');
  }
  checkName(site, 'namespace', options.namespace);
  checkKeyOption(site, options.key);
}

/** Checks a `key` option: a usable fixed string or a function. */
export function checkKeyOption(site: string, key: unknown): void {
  if (key === undefined || typeof key === 'function') return;
  if (typeof key !== 'string') {
    throw new CacheOptionsError(
      site,
      `key must be a string or a function of the method's arguments, got ${typeof key}`,
    );
  }
  checkName(site, 'key', key);
}

/** Checks an optional namespace or fixed key at decoration time. */
export function checkName(site: string, field: 'key' | 'namespace', value: unknown): void {
  if (value === undefined) return;
  asOptionsError(site, `${field}: `, () =>
    assertName(field === 'key' ? 'cache key' : 'cache namespace', value),
  );
}

/** Checks the options of `CacheService.set()`: an object with `ttlMs`. */
export function checkSetOptions(options: unknown): asserts options is { ttlMs: number } {
  if (typeof options !== 'object' || options === null) {
    throw new CacheOptionsError('CacheService.set()', 'expected an options object with ttlMs');
  }
  assertKnownKeys('options', options, SET_OPTION_NAMES);
  assertMilliseconds('ttlMs', (options as { ttlMs?: unknown }).ttlMs, { min: 1 });
}

/** Refuses `get()`/`delete()` options with a key other than `namespace`. */
export function checkEntryOptions(options: unknown): asserts options is CacheEntryOptions {
  assertKnownKeys('options', options, ENTRY_OPTION_NAMES);
}

/** Checks the loader of `CacheService.wrap()`: it computes the value on a miss. */
export function checkLoader(loader: unknown): asserts loader is () => unknown {
  if (typeof loader !== 'function') {
    throw new InvalidArgumentError('loader', loader, 'expected a function that computes the value');
  }
}

/** Runs a shared check, rethrowing its error as a CacheOptionsError that names the site. */
function asOptionsError(site: string, field: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    throw new CacheOptionsError(site, `${field}${(error as Error).message}`);
  }
}
