import type { RedisConnections } from './redis-connections.js';
import type { Unsubscribe } from './subscription-hub.js';

/** How long a release channel stays subscribed after its last waiter left. */
const LINGER_MS = 5000;

interface Watch {
  readonly listeners: Set<(message: string) => void>;
  readonly subscribed: Promise<Unsubscribe>;
  idle?: NodeJS.Timeout;
}

/**
 * Lets waiters (for a lock, for a semaphore permit) hear releases on the app's shared subscriber
 * connection. A channel stays subscribed for a few seconds after its last waiter left, so a
 * resource under steady contention costs no SUBSCRIBE/UNSUBSCRIBE round trip per wait.
 */
export class ReleaseNotifier {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly connections: RedisConnections) {}

  /** Calls `listener` for each message of `channel` until the returned function is called. */
  async watch(channel: string, listener: (message: string) => void): Promise<() => void> {
    let watch = this.watches.get(channel);
    if (!watch) {
      const listeners = new Set<(message: string) => void>();
      const created: Watch = {
        listeners,
        subscribed: this.connections.subscriptions().then((hub) =>
          hub.subscribe(channel, (message) => {
            for (const wake of listeners) wake(message);
          }),
        ),
      };
      watch = created;
      this.watches.set(channel, created);
      created.subscribed.catch(() => {
        if (this.watches.get(channel) === created) this.watches.delete(channel);
      });
    }
    clearTimeout(watch.idle);
    watch.listeners.add(listener);
    const current = watch;
    try {
      await current.subscribed;
    } catch (error) {
      current.listeners.delete(listener);
      throw error;
    }
    return () => {
      current.listeners.delete(listener);
      if (current.listeners.size > 0 || this.watches.get(channel) !== current) return;
      current.idle = setTimeout(() => {
        this.watches.delete(channel);
        void current.subscribed.then((unsubscribe) => unsubscribe()).catch(() => undefined);
      }, LINGER_MS).unref();
    };
  }

  /** Ends every subscription (at application shutdown). */
  async close(): Promise<void> {
    const watches = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(
      watches.map(async (watch) => {
        clearTimeout(watch.idle);
        const unsubscribe = await watch.subscribed.catch(() => undefined);
        await unsubscribe?.().catch(() => undefined);
      }),
    );
  }
}
