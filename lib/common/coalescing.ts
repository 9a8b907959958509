/**
 * Wraps `run` for re-reads on change notices, where only the latest state matters: a call while
 * a run is under way is folded with any others into one more run after it. The promise a call
 * returns settles with a run that started after the call.
 */
export function coalescing(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = (): Promise<void> => {
    running = run().finally(() => (running = undefined));
    return running;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        // A call in between may have started one already: it started after ours too.
        return running ?? start();
      });
    return next;
  };
}
