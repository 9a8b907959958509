import type { KeySpace } from '../connection/key-space.js';

/** The key of counter `name`: `<prefix>{counter:<name>}`. */
export function counterKey(keys: KeySpace, name: string): string {
  return keys.base('counter', 'counter name', name);
}

/** The keys of one rate limit, in hitRateLimit-2.lua's order; they share one hash tag. */
export function rateLimitKeys(keys: KeySpace, name: string): [hits: string, block: string] {
  const base = keys.base('rate', 'rate limit key', name);
  return [keys.under(base, 'hits'), keys.under(base, 'block')];
}

/**
 * The keys of one `@nestjs/throttler` record, in hitThrottler-2.lua's order; they share one
 * hash tag.
 */
export function throttlerKeys(keys: KeySpace, name: string): [hits: string, state: string] {
  const base = keys.base('throttler', 'throttler key', name);
  return [keys.under(base, 'hits'), keys.under(base, 'state')];
}
