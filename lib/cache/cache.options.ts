import { describeValue, InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertCount,
  assertKnownKeys,
  assertMilliseconds,
  assertName,
  collectProblems,
  optionNames,
} from '../common/validate.js';
import { CacheOptionsError } from './cache.errors.js';
import type {
  CachedOptions,
  CacheEntryOptions,
  CacheEvictOptions,
  CacheModuleOptions,
  CacheSetOptions,
  CacheWrapOptions,
  LocalCacheOptions,
  NearCacheModuleOptions,
} from './cache.interfaces.js';

/** The defaults of {@link CacheWrapOptions}. */
export const DEFAULT_CACHE_OPTIONS: Readonly<
  Required<Pick<CacheWrapOptions, 'leaseMs' | 'cacheNull' | 'staleMs' | 'staleIfErrorMs'>>
> = Object.freeze({
  leaseMs: 10_000,
  cacheNull: false,
  staleMs: 0,
  staleIfErrorMs: 0,
});

/** The default bound of the near cache (module option `cache.local.maxEntries`). */
export const DEFAULT_NEAR_CACHE_ENTRIES = 10_000;

/** At most this many tags per entry: each one is read with the entry. */
export const MAX_TAGS = 64;

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
  tags: true,
  cacheNull: true,
  leaseMs: true,
  staleMs: true,
  staleIfErrorMs: true,
  local: true,
});
export const CACHED_OPTION_NAMES = optionNames<CachedOptions>({
  ttlMs: true,
  namespace: true,
  tags: true,
  cacheNull: true,
  leaseMs: true,
  staleMs: true,
  staleIfErrorMs: true,
  local: true,
  key: true,
});
const ENTRY_OPTION_NAMES = optionNames<CacheEntryOptions>({ namespace: true });
const SET_OPTION_NAMES = optionNames<CacheSetOptions>({
  namespace: true,
  ttlMs: true,
  tags: true,
});
const EVICT_OPTION_NAMES = optionNames<CacheEvictOptions>({
  namespace: true,
  key: true,
  tags: true,
});
const LOCAL_OPTION_NAMES = optionNames<LocalCacheOptions>({ ttlMs: true, shared: true });
const MODULE_OPTION_NAMES = optionNames<CacheModuleOptions>({ local: true });
const NEAR_CACHE_OPTION_NAMES = optionNames<NearCacheModuleOptions>({
  ttlMs: true,
  shared: true,
  maxEntries: true,
  maxBytes: true,
});

/** How one call keeps its value in the near cache, after validation. */
export interface LocalOptions {
  readonly ttlMs: number;
  readonly shared: boolean;
}

/** `wrap()`/`@Cached()` options after validation, defaults filled in. */
export interface FillOptions {
  readonly ttlMs: number;
  readonly cacheNull: boolean;
  readonly leaseMs: number;
  readonly staleMs: number;
  readonly staleIfErrorMs: number;
  /** The fixed tags (`@Cached()` with a tags function: none here, given per call). */
  readonly tags: readonly string[];
  /** `false`: not near-cached; `undefined`: the module's default. */
  readonly local: LocalOptions | false | undefined;
}

/** Module option `cache` after validation. */
export interface ResolvedCacheOptions {
  /** The near cache's default for calls that do not say (undefined: off unless asked). */
  readonly local: LocalOptions | undefined;
  readonly maxEntries: number;
  readonly maxBytes: number | undefined;
}

/**
 * Checks `wrap()`/`@Cached()` options (`names`: those the site takes) and applies the defaults.
 * @throws CacheOptionsError naming `site` and the field.
 */
export function resolveFillOptions(
  site: string,
  options: CacheWrapOptions | CachedOptions<unknown[]>,
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
    staleMs = DEFAULT_CACHE_OPTIONS.staleMs,
    staleIfErrorMs = DEFAULT_CACHE_OPTIONS.staleIfErrorMs,
    namespace,
    tags,
    local,
  } = options as CachedOptions<unknown[]>;
  asOptionsError(site, '', () => {
    assertMilliseconds('ttlMs', ttlMs, { min: 1 });
    assertMilliseconds('leaseMs', leaseMs, { min: 1 });
    assertMilliseconds('staleMs', staleMs);
    assertMilliseconds('staleIfErrorMs', staleIfErrorMs);
  });
  if (typeof cacheNull !== 'boolean') {
    throw new CacheOptionsError(site, `cacheNull must be a boolean, got ${String(cacheNull)}`);
  }
  checkName(site, 'namespace', namespace);
  // A function of the arguments is for `@Cached()`: its result is checked at each call.
  if (typeof tags !== 'function' || names !== CACHED_OPTION_NAMES) {
    asOptionsError(site, '', () => checkTags(tags));
  }
  return {
    ttlMs,
    cacheNull,
    leaseMs,
    staleMs,
    staleIfErrorMs,
    tags: typeof tags === 'function' ? NO_TAGS : checkTags(tags),
    local: resolveLocal(site, local),
  };
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * Checks a list of tags (an option, or what a tags function returned); returns it without
 * repeats.
 * @throws InvalidKeyError for a tag that is not a usable name; InvalidArgumentError otherwise.
 */
export function checkTags(tags: unknown): readonly string[] {
  if (tags === undefined) return NO_TAGS;
  if (!Array.isArray(tags)) {
    throw new InvalidArgumentError('tags', tags, 'expected an array of tag names');
  }
  if (tags.length > MAX_TAGS) {
    throw new InvalidArgumentError('tags', tags, `at most ${MAX_TAGS} tags per entry`);
  }
  for (const tag of tags) assertName('cache tag', tag);
  return tags.length < 2 ? (tags as string[]) : [...new Set(tags as string[])];
}

function resolveLocal(site: string, local: unknown): LocalOptions | false | undefined {
  if (local === undefined || local === true) return undefined;
  if (local === false) return false;
  if (typeof local !== 'object' || local === null) {
    throw new CacheOptionsError(
      site,
      `local must be a boolean or { ttlMs, shared? }, got ${describeValue(local)}`,
    );
  }
  asOptionsError(site, '', () => assertKnownKeys('local', local, LOCAL_OPTION_NAMES));
  const { ttlMs, shared = false } = local as LocalCacheOptions;
  asOptionsError(site, '', () => assertMilliseconds('local.ttlMs', ttlMs, { min: 1 }));
  if (typeof shared !== 'boolean') {
    throw new CacheOptionsError(site, `local.shared must be a boolean, got ${String(shared)}`);
  }
  return { ttlMs, shared };
}

/** Checks the module option `cache`, adding a line to `problems` for each fault. */
export function resolveCacheModuleOptions(
  input: unknown,
  problems: string[],
): ResolvedCacheOptions {
  const defaults = {
    local: undefined,
    maxEntries: DEFAULT_NEAR_CACHE_ENTRIES,
    maxBytes: undefined,
  };
  if (input === undefined) return defaults;
  const before = problems.length;
  const check = collectProblems('cache', problems);
  check(() => assertKnownKeys('cache', input, MODULE_OPTION_NAMES));
  const { local } = input as CacheModuleOptions;
  if (problems.length > before || local === undefined) return defaults;
  const checkLocal = collectProblems('cache.local', problems);
  checkLocal(() => assertKnownKeys('cache.local', local, NEAR_CACHE_OPTION_NAMES));
  if (problems.length > before) return defaults;
  const { ttlMs, shared = false, maxEntries = DEFAULT_NEAR_CACHE_ENTRIES, maxBytes } = local;
  checkLocal(() => {
    if (ttlMs !== undefined) assertMilliseconds('ttlMs', ttlMs, { min: 1 });
  });
  checkLocal(() => assertCount('maxEntries', maxEntries));
  checkLocal(() => {
    if (maxBytes !== undefined) assertCount('maxBytes', maxBytes);
  });
  if (typeof shared !== 'boolean') {
    problems.push(`cache.local.shared must be a boolean, got ${describeValue(shared)}`);
  }
  return {
    local: ttlMs === undefined ? undefined : { ttlMs, shared },
    maxEntries,
    maxBytes,
  };
}

/**
 * Checks `@CacheEvict()` options: a key, a namespace, tags, or a combination.
 * @throws CacheOptionsError naming `site` and the field.
 */
export function checkEvictOptions(site: string, options: CacheEvictOptions<unknown[]>): void {
  if (typeof options !== 'object' || options === null) {
    throw new CacheOptionsError(site, 'expected an options object with namespace, key or tags');
  }
  asOptionsError(site, '', () => assertKnownKeys('options', options, EVICT_OPTION_NAMES));
  if (options.namespace === undefined && options.key === undefined && options.tags === undefined) {
    throw new CacheOptionsError(site, 'give a key, a namespace, tags, or a combination');
  }
  checkName(site, 'namespace', options.namespace);
  checkKeyOption(site, options.key);
  if (typeof options.tags !== 'function') asOptionsError(site, '', () => checkTags(options.tags));
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

/** Checks the options of `CacheService.set()`: an object with `ttlMs`; returns its tags. */
export function checkSetOptions(options: unknown): readonly string[] {
  if (typeof options !== 'object' || options === null) {
    throw new CacheOptionsError('CacheService.set()', 'expected an options object with ttlMs');
  }
  assertKnownKeys('options', options, SET_OPTION_NAMES);
  assertMilliseconds('ttlMs', (options as { ttlMs?: unknown }).ttlMs, { min: 1 });
  return checkTags((options as { tags?: unknown }).tags);
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
