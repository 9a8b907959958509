/**
 * Settles as `work` does, or rejects with `onTimeout()` once `ms` have passed, whichever comes
 * first. `work` itself goes on (nothing can cancel it); only the wait for it is bounded.
 */
export function within<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for `work` to settle, at most `ms`; never rejects (for waits that may be given up). */
export function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  return within(work, ms, () => new Error(`not settled within ${ms} ms`)).then(
    () => undefined,
    () => undefined,
  );
}
