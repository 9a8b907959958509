import type { Logger } from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import type { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { nodeName } from '../zookeeper/zookeeper.paths.js';
import type { ZooKeeperSession } from '../zookeeper/zookeeper.session.js';
import { keepWatching, REARM_RETRY_MS } from '../zookeeper/zookeeper.watch.js';
import type { ConfigBackend, ConfigWrite, StoredConfig } from './live-config.backend.js';
import type { ConfigStore } from './live-config.store.js';

/**
 * The most a key's node may hold. ZooKeeper refuses a request over `jute.maxbuffer` (1 MiB by
 * default, path and headers included) by dropping the connection, not with an error.
 */
export const MAX_ZOOKEEPER_VALUE_BYTES = 1_000_000;

/**
 * How long an instance waits before writing through to Redis a change its watch read. The
 * instance that wrote a value caches it at once; the others' write-through only matters for a
 * change made around the library or by a writer that stopped first, and sent at once by every
 * instance it would compete with applying the change.
 */
const WATCHED_CACHE_DELAY_MS = 1000;

const NEVER_SET: StoredConfig = Object.freeze({ version: 0, text: undefined });

/** `<root>/config/<name>`: the persistent node whose data is the key's encoded value. */
function configNode(root: string, name: string): string {
  return `${root}/config/${nodeName(name)}`;
}

/** A key's node as the service sees it: data version 0 is a node made empty, never set. */
function storedOf(node: { data: Buffer; stat: { version: number } } | undefined): StoredConfig {
  if (!node || node.stat.version === 0) return NEVER_SET;
  return { version: node.stat.version, text: node.data.toString() };
}

/**
 * Live configuration of record on ZooKeeper ("ZooKeeper stores, Redis caches"). Each key is a
 * persistent node whose data is the encoded value and whose data version is the key's version,
 * so a compare-and-set is ZooKeeper's versioned setData: of concurrent writes at one version,
 * exactly one succeeds. A data watch, set again each time it fires ({@link keepWatching}),
 * re-reads every change. Each value written, and (a moment later) each value read, is written
 * through to Redis ({@link ConfigStore.cache}), where instances that read Redis get it announced;
 * the cache only moves forward in version, so every watching instance may write it through and
 * one write counts.
 */
export class ZooKeeperConfigBackend implements ConfigBackend {
  /** Values to cache in Redis by key, while a write-through of the key is under way. */
  private readonly caching = new Map<string, StoredConfig & { readonly text: string }>();
  /** Per key, the newest value a watch read, to write through once {@link WATCHED_CACHE_DELAY_MS} passed. */
  private readonly watched = new Map<string, { stored: StoredConfig; timer: NodeJS.Timeout }>();
  private closed = false;

  constructor(
    private readonly connection: ZooKeeperConnection,
    private readonly cache: ConfigStore,
    private readonly logger: Logger,
  ) {}

  async read(name: string): Promise<StoredConfig> {
    return storedOf(await this.connection.session.getData(this.nodeOf(name)));
  }

  async write(name: string, text: string, expectVersion: number | undefined): Promise<ConfigWrite> {
    const size = Buffer.byteLength(text);
    if (size > MAX_ZOOKEEPER_VALUE_BYTES) {
      throw new InvalidArgumentError(
        'value',
        text,
        `encodes to ${size} bytes, over what a ZooKeeper node holds (${MAX_ZOOKEEPER_VALUE_BYTES})`,
      );
    }
    this.connection.assertConnected(`set config "${name}"`);
    const path = this.nodeOf(name);
    const { session } = this.connection;
    for (;;) {
      const written = await session.setData(path, Buffer.from(text), expectVersion ?? -1);
      if (written === 'version-mismatch') {
        return { status: 'conflict', version: (await this.read(name)).version };
      }
      if (written !== 'no-node') {
        this.writeThrough(name, { version: written.version, text });
        return { status: 'written', version: written.version };
      }
      // Never set: only a write expecting version 0 (or any) may create it, empty (version 0).
      if (expectVersion) return { status: 'conflict', version: 0 };
      await session.ensurePath(path);
    }
  }

  async watch(name: string, listener: (change: StoredConfig) => void): Promise<Unsubscribe> {
    const path = this.nodeOf(name);
    const tell = (stored: StoredConfig) => {
      this.writeThroughLater(name, stored);
      listener(stored);
    };
    const { first, stop } = await keepWatching(
      this.connection,
      (session, fired) => readWatched(session, path, fired),
      tell,
    );
    tell(first);
    return async () => stop();
  }

  /** Nothing to do: each watch reads again after a reconnect ({@link keepWatching}). */
  onGap(): () => void {
    return () => undefined;
  }

  close(): void {
    this.closed = true;
    for (const { timer } of this.watched.values()) clearTimeout(timer);
    this.watched.clear();
  }

  private nodeOf(name: string): string {
    return configNode(this.connection.root, name);
  }

  /**
   * Caches `stored` in Redis, in the background; while Redis cannot be reached, retries every
   * {@link REARM_RETRY_MS} with the newest value known, until cached or the app shuts down.
   */
  private writeThrough(name: string, stored: StoredConfig): void {
    if (stored.text === undefined) return;
    const underWay = this.caching.get(name);
    if (underWay && underWay.version >= stored.version) return;
    this.caching.set(name, { version: stored.version, text: stored.text });
    if (!underWay) void this.cacheUntilDone(name);
  }

  /** {@link writeThrough} after {@link WATCHED_CACHE_DELAY_MS}, with the newest value by then. */
  private writeThroughLater(name: string, stored: StoredConfig): void {
    const pending = this.watched.get(name);
    if (pending) {
      if (stored.version > pending.stored.version) pending.stored = stored;
      return;
    }
    const timer = setTimeout(() => {
      this.watched.delete(name);
      this.writeThrough(name, entry.stored);
    }, WATCHED_CACHE_DELAY_MS).unref();
    const entry = { stored, timer };
    this.watched.set(name, entry);
  }

  private async cacheUntilDone(name: string): Promise<void> {
    let failing = false;
    while (!this.closed) {
      const stored = this.caching.get(name)!;
      try {
        await this.cache.cache(name, stored);
        if (failing) this.logger.log(`Config "${name}" version ${stored.version} cached in Redis`);
        if (this.caching.get(name) === stored) break;
        continue; // a newer version came meanwhile
      } catch (error) {
        if (!failing) {
          this.logger.warn(
            `Could not cache config "${name}" version ${stored.version} in Redis: ${(error as Error).message}; retrying every ${REARM_RETRY_MS} ms`,
          );
        }
        failing = true;
      }
      await new Promise((resolve) => setTimeout(resolve, REARM_RETRY_MS).unref());
    }
    this.caching.delete(name);
  }
}

/**
 * Reads a key's node with a data watch; while it does not exist, an exists watch (a read sets
 * none on a missing node) tells of its creation.
 */
async function readWatched(
  session: ZooKeeperSession,
  path: string,
  fired: () => void,
): Promise<StoredConfig> {
  for (;;) {
    const node = await session.getData(path, fired);
    if (node) return storedOf(node);
    if (!(await session.exists(path, fired))) return NEVER_SET;
    // Created between the two reads: read it.
  }
}
