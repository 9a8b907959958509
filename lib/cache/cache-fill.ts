import type { CacheLookup } from './cache.telemetry.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import { entryBody, lifetimeMs, tagsHold, type StoredEntry } from './cache-entry.js';
import { CacheValues, UNREADABLE } from './cache-values.js';
import type { EntryRef } from './cache.keys.js';
import type { FillOptions } from './cache.options.js';
import type { CacheStore, FillClaim, FillTicket } from './cache.store.js';

/** Outcome of one fill, shared by the callers of one process that missed together. */
export interface Fill {
  readonly value: unknown;
  /** The stored entry, when the value was stored: joiners decode their own copy from it. */
  readonly entry?: StoredEntry;
}

/** What a fill computes: the entry, its loader and options, and the tags of this call. */
export interface FillRequest {
  readonly ref: EntryRef;
  readonly loader: () => unknown;
  readonly options: FillOptions;
  readonly tags: readonly string[];
  /** What the read found, with the module option `telemetry` (always set, for one shape). */
  readonly lookup: CacheLookup | undefined;
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

  /**
   * Computes a missing value once across instances: lease winner computes, others wait.
   * `unusable`: the entry the caller read and cannot serve (stale, or a tag invalidated).
   */
  async fill(request: FillRequest, unusable?: StoredEntry): Promise<Fill> {
    const { ref, loader, options } = request;
    let claim: FillClaim;
    try {
      claim = await this.store.claimFill(
        ref,
        options.leaseMs,
        request.tags,
        lifetimeMs(options),
        unusable,
      );
    } catch (error) {
      this.onFailure(ref, error);
      return { value: await loader() };
    }
    if (claim.state === 'won') return this.computeAndStore(request, claim.ticket);
    if (claim.state !== 'hit') request.lookup?.found('fill-wait');
    const entry =
      claim.state === 'hit'
        ? claim.entry
        : await this.waitForFill(ref, Math.min(options.leaseMs, claim.leaseLeftMs), unusable);
    // Else the holder failed, stored nothing, is too slow, or stored what this caller cannot
    // serve: compute here, holding no lease.
    return (
      (entry && this.usable(ref, entry, claim.ticket)) ??
      this.computeAndStore(request, claim.ticket)
    );
  }

  /**
   * Refreshes a stale entry in the background: only the instance that wins the lease computes;
   * resolves without computing when another instance refreshes it or already did.
   */
  async refresh(request: FillRequest, stale: StoredEntry): Promise<void> {
    const { ref, options } = request;
    const claim = await this.store.claimFill(
      ref,
      options.leaseMs,
      request.tags,
      lifetimeMs(options),
      stale,
    );
    if (claim.state === 'won') await this.computeAndStore(request, claim.ticket);
  }

  /** Ends every wait for another instance's fill (at shutdown): those callers compute. */
  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  /** The value of an entry another caller stored, if this fill can serve it. */
  private usable(ref: EntryRef, entry: StoredEntry, ticket: FillTicket): Fill | undefined {
    const tags = ticket.tags.map(([tag]) => tag);
    const tokens = ticket.tags.map(([, token]) => token);
    if (tagsHold(entry, tags, tokens) !== true || Date.now() >= entry.freshUntil) return undefined;
    const value = this.values.decode(ref, entry.text);
    return value === UNREADABLE ? undefined : { value, entry };
  }

  private async computeAndStore(request: FillRequest, ticket: FillTicket): Promise<Fill> {
    const { ref, loader, options } = request;
    let value: unknown;
    try {
      value = await loader();
    } catch (error) {
      // Not cached; waiters are told at once so they stop waiting and compute themselves.
      await this.store.storeFill(ref, ticket, undefined, 1).catch(() => undefined);
      throw error;
    }
    const text = this.values.encode(ref, value, options);
    const stored = text === undefined ? undefined : entryBody(text, options, ticket.tags);
    try {
      const entry = await this.store.storeFill(ref, ticket, stored?.body, stored?.keepMs ?? 1);
      return entry === null ? { value } : { value, entry };
    } catch (error) {
      this.onFailure(ref, error);
      return { value };
    }
  }

  /**
   * Waits, at most `boundMs`, for the lease holder's notification on the entry's fill channel.
   * Subscribes before reading again, so a fill that lands in between is not missed. Returns
   * the stored entry, or null when nothing was stored in time (`unusable` does not count).
   */
  private async waitForFill(
    ref: EntryRef,
    boundMs: number,
    unusable: StoredEntry | undefined,
  ): Promise<StoredEntry | null> {
    // Woken with the fill's outcome, or with nothing at the bound or at shutdown.
    let wake!: (filled?: { entry: StoredEntry | null }) => void;
    const news = new Promise<{ entry: StoredEntry | null } | undefined>((resolve) => {
      wake = resolve;
    });
    let unsubscribe: Unsubscribe | undefined;
    let timer: NodeJS.Timeout | undefined;
    this.waiters.add(wake);
    try {
      unsubscribe = await this.store.onFill(ref, (entry) => wake({ entry }));
      const current = await this.store.read(ref);
      if (current !== null && current.header !== unusable?.header) return current;
      timer = setTimeout(() => wake(), boundMs);
      const filled = await news;
      // No news: read once more, the holder may have stored it all the same.
      return filled ? filled.entry : await this.store.read(ref);
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
