import type { ZooKeeperConnection } from './zookeeper.connection.js';
import type { ZooKeeperSession } from './zookeeper.session.js';

/** Pause before setting a watch again after ZooKeeper could not be reached. */
export const REARM_RETRY_MS = 1000;

/** A watch kept set by {@link keepWatching}. */
export interface KeptWatch<T> {
  /** What the first read found, its watch set. */
  readonly first: T;
  /** Stops setting the watch again (one already set fires into nothing). */
  stop(): void;
}

/**
 * Keeps a watch set: `read` reads through `session` with `fired` as its watch. Each time the
 * watch fires, and after every reconnect (a new session has no watches), `read` runs again and
 * `onRead` gets what it found: watches fire once and changes in between coalesce, so the caller
 * re-reads, never applies deltas. Set first, then told: a change in between is in what is read.
 * Only the latest watch counts (one set before a reconnect may still fire, and is spent); while
 * ZooKeeper cannot be reached, it tries again every {@link REARM_RETRY_MS}. Rejects when the
 * first read fails.
 */
export async function keepWatching<T>(
  connection: ZooKeeperConnection,
  read: (session: ZooKeeperSession, fired: () => void) => Promise<T>,
  onRead: (found: T) => void,
): Promise<KeptWatch<T>> {
  let armed = 0;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const arm = (): Promise<T> => {
    const generation = ++armed;
    const fired = () => {
      if (!stopped && generation === armed) rearm();
    };
    return read(connection.session, fired); // the current session: a new one after a loss
  };
  const rearm = (): void => {
    clearTimeout(retry);
    arm().then(
      (found) => {
        if (!stopped) onRead(found);
      },
      () => {
        if (!stopped) retry = setTimeout(rearm, REARM_RETRY_MS).unref();
      },
    );
  };
  const first = await arm();
  const unsubscribe = connection.onSessionEvent((event) => {
    if (event === 'reconnected') rearm();
  });
  return {
    first,
    stop: () => {
      stopped = true;
      clearTimeout(retry);
      unsubscribe();
    },
  };
}
