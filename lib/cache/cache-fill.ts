import type { Unsubscribe } from '../connection/subscription-hub.js';
import { CacheValues, UNREADABLE } from './cache-values.js';
import type { EntryRef } from './cache.keys.js';
import type { FillOptions } from './cache.options.js';
import type { CacheStore, FillClaim, FillTicket } from './cache.store.js';

/** Outcome of one fill, shared by the callers of one process that missed together. */
export interface Fill {
  readonly value: unknown;
  /** The stored text, when the value was stored: joiners decode their own copy from it. */
  readonly text?: string;
}

/**
 * The cross-instance side of a miss: the instance that wins the entry's short Redis lease
 * computes the value and stores it; the others wait for its notification on the entry's fill
 * channel, and compute it themselves if the holder fails, stores nothing or outlives its lease.
 * A Redis failure never fails the fill: the value is computed here and reported to `onFailure`.
 */
export class CacheFiller {
  /** Callers waiting for another instance's fill, woken at shutdown. */
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly store: CacheStore,
    private readonly values: CacheValues,
    private readonly onFailure: (ref: EntryRef, error: unknown) => void,
  ) {}

  /** Computes a missing value once across instances: lease winner computes, others wait. */
  async fill(ref: EntryRef, loader: () => unknown, options: FillOptions): Promise<Fill> {
    let claim: FillClaim;
    try {
      claim = await this.store.claimFill(ref, options.leaseMs);
    } catch (error) {
      this.onFailure(ref, error);
      return { value: await loader() };
    }
    if (claim.state === 'hit') {
      const value = this.values.decode(ref, claim.text);
      return value === UNREADABLE ? { value: await loader() } : { value, text: claim.text };
    }
    if (claim.state === 'won') return this.computeAndStore(ref, loader, options, claim.ticket);
    const text = await this.waitForFill(ref, Math.min(options.leaseMs, claim.leaseLeftMs));
    if (text !== null) {
      const value = this.values.decode(ref, text);
      if (value !== UNREADABLE) return { value, text };
    }
    // The holder failed, stored nothing, or is too slow: compute here, holding no lease.
    return this.computeAndStore(ref, loader, options, claim.ticket);
  }

  /** Ends every wait for another instance's fill (at shutdown): those callers compute. */
  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  private async computeAndStore(
    ref: EntryRef,
    loader: () => unknown,
    options: FillOptions,
    ticket: FillTicket,
  ): Promise<Fill> {
    let value: unknown;
    try {
      value = await loader();
    } catch (error) {
      // Not cached; waiters are told at once so they stop waiting and compute themselves.
      await this.store.storeFill(ref, ticket, undefined, options.ttlMs).catch(() => undefined);
      throw error;
    }
    const text = this.values.encode(ref, value, options);
    try {
      const stored = await this.store.storeFill(ref, ticket, text, options.ttlMs);
      return stored === null ? { value } : { value, text: stored };
    } catch (error) {
      this.onFailure(ref, error);
      return { value };
    }
  }

  /**
   * Waits, at most `boundMs`, for the lease holder's notification on the entry's fill channel.
   * Subscribes before reading again, so a fill that lands in between is not missed. Returns
   * the stored text, or null when nothing was stored in time.
   */
  private async waitForFill(ref: EntryRef, boundMs: number): Promise<string | null> {
    // Woken with the fill's outcome, or with nothing at the bound or at shutdown.
    let wake!: (filled?: { text: string | null }) => void;
    const news = new Promise<{ text: string | null } | undefined>((resolve) => {
      wake = resolve;
    });
    let unsubscribe: Unsubscribe | undefined;
    let timer: NodeJS.Timeout | undefined;
    this.waiters.add(wake);
    try {
      unsubscribe = await this.store.onFill(ref, (text) => wake({ text }));
      const current = await this.store.read(ref);
      if (current !== null) return current;
      timer = setTimeout(() => wake(), boundMs);
      const filled = await news;
      // No news: read once more, the holder may have stored it all the same.
      return filled ? filled.text : await this.store.read(ref);
    } catch (error) {
      this.onFailure(ref, error);
      return null;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(wake);
      void unsubscribe?.().catch(() => undefined);
    }
  }
}
