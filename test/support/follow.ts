import { afterEach } from '@jest/globals';
import { filter, firstValueFrom, ReplaySubject, type Observable, type Subscription } from 'rxjs';
import { within } from '../../lib/common/within.js';

/** Waits for the followed stream's latest or a later value to satisfy `predicate`. */
export type Until<T> = (what: string, predicate: (value: T) => boolean) => Promise<T>;

/**
 * Returns `follow(stream)`, which subscribes once and keeps the latest value, so that a wait
 * sees what reached this one subscription (a watch firing), never a fresh subscription's first
 * read. Waits are bounded (60 s) only so that what never happens fails instead of hanging.
 * Registers an `afterEach` hook that ends the subscriptions.
 */
export function useFollow(): <T>(stream: Observable<T>) => Until<T> {
  const subscriptions = new Set<Subscription>();
  afterEach(() => {
    for (const subscription of subscriptions) subscription.unsubscribe();
    subscriptions.clear();
  });
  return <T>(stream: Observable<T>): Until<T> => {
    const latest = new ReplaySubject<T>(1);
    subscriptions.add(stream.subscribe(latest));
    return (what, predicate) =>
      within(
        firstValueFrom(latest.pipe(filter(predicate))),
        60_000,
        () => new Error(`${what}: not within 60 s`),
      );
  };
}
