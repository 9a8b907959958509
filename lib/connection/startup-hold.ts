import type { Socket } from 'node:net';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-connections.js';

/**
 * Until the app has started (`onApplicationBootstrap`), the module's connections keep the process
 * alive only while one of their commands awaits its reply.
 *
 * The module connects while Nest creates providers, before the app has started. If the start
 * then fails (another provider's factory or an `onModuleInit` throws) and the app catches the
 * error (`abortOnError: false`), Nest gives it no application to close, and open sockets would
 * keep the process alive for good. Counting the commands in flight keeps a start that awaits
 * Redis alive; once the app has started, connections hold the process as any socket does.
 */
export class StartupHold {
  private started = false;
  private inFlight = 0;
  /** Each tracked client, with what to put back in place of its counting `sendCommand`. */
  private readonly tracked = new Map<RedisClient, () => void>();

  /** Counts the client's commands and lets its sockets hold the process only while one waits. */
  track(client: RedisClient): void {
    if (this.started) return;
    const own = Object.prototype.hasOwnProperty.call(client, 'sendCommand');
    const send = client.sendCommand;
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      const sent = (send as (...a: unknown[]) => unknown).apply(client, args);
      this.begin(); // after sending, so that a send that throws leaves the count alone
      args[0].promise.then(this.end, this.end);
      return sent;
    }) as typeof client.sendCommand;
    this.tracked.set(client, () => {
      if (own) client.sendCommand = send;
      else delete (client as Partial<RedisClient>).sendCommand;
    });
    // A new socket (first connect, reconnect, a cluster node) starts out holding the process,
    // and so does the timer of a reconnect (Redis down): neither may hold a start that failed.
    const onConnect = () => this.apply(client);
    client.on('connect', onConnect);
    client.on('reconnecting', () => this.releaseTimer(client));
    client.once('end', () => this.tracked.delete(client));
    if (client instanceof Cluster) {
      client.on('+node', (node: Redis) => {
        node.on('connect', onConnect);
        node.on('reconnecting', () => this.releaseTimer(node));
      });
      // Sharded subscribers connect on their own, and say so only as a group.
      client.on('subscribersReady', onConnect);
    }
    this.apply(client);
  }

  /** The app has started: connections hold the process from now on, commands are no longer counted. */
  appStarted(): void {
    if (this.started) return;
    this.started = true;
    for (const [client, restore] of this.tracked) {
      restore();
      this.apply(client);
    }
    this.tracked.clear();
  }

  private readonly begin = () => {
    if (this.inFlight++ === 0) this.applyAll();
  };

  private readonly end = () => {
    if (--this.inFlight === 0) this.applyAll();
  };

  private applyAll(): void {
    for (const client of this.tracked.keys()) this.apply(client);
  }

  /** ioredis sets the timer of its next connection attempt just before it emits 'reconnecting'. */
  private releaseTimer(redis: RedisClient): void {
    if (this.started) return;
    (redis as unknown as { reconnectTimeout?: NodeJS.Timeout | null }).reconnectTimeout?.unref();
  }

  private apply(client: RedisClient): void {
    const hold = this.started || this.inFlight > 0;
    for (const socket of socketsOf(client)) {
      if (hold) socket.ref();
      else socket.unref();
    }
  }
}

function socketsOf(client: RedisClient): Socket[] {
  const clients =
    client instanceof Cluster ? [...client.nodes('all'), ...subscribersOf(client)] : [client];
  return clients.flatMap((redis) => (redis?.stream ? [redis.stream as Socket] : []));
}

/** Subscriber instances hold their own connections, which are not among a Cluster's nodes. */
interface SubscriberInstance {
  getInstance(): Redis | null;
}

/**
 * A Cluster subscribes on connections of its own: one for plain pub/sub, and with sharded
 * subscribers one per master.
 */
function subscribersOf(cluster: Cluster): Array<Redis | null> {
  const { subscriber, shardedSubscribers } = cluster as unknown as {
    subscriber?: SubscriberInstance;
    shardedSubscribers?: { shardedSubscribers?: Map<string, SubscriberInstance> };
  };
  const sharded = [...(shardedSubscribers?.shardedSubscribers?.values() ?? [])];
  return [subscriber, ...sharded].map((instance) => instance?.getInstance() ?? null);
}
