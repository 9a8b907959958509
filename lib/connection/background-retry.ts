import { performance } from 'node:perf_hooks';

/** Pause between tries while Redis cannot be reached. */
const RETRY_MS = 1000;

/**
 * Runs `attempt` now and, while it fails, again every second in the background until `forMs`
 * has passed or `closed()` says the connection was closed. Resolves after the first try,
 * whatever its outcome. For undoing what a command whose reply never came may still do: Redis
 * may run it late (a frozen server when it wakes), so the undo must outlast what it could hold.
 */
export async function retryInBackground(
  attempt: () => Promise<unknown>,
  forMs: number,
  closed: () => boolean,
): Promise<void> {
  const until = performance.now() + forMs;
  const run = (): Promise<void> =>
    attempt().then(
      () => undefined,
      () => {
        const remainingMs = until - performance.now();
        if (remainingMs <= 0 || closed()) return;
        setTimeout(() => void run(), Math.min(RETRY_MS, remainingMs)).unref();
      },
    );
  await run();
}
