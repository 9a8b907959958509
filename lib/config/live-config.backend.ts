import type { Unsubscribe } from '../connection/subscription-hub.js';

/** A key's stored form: its version and encoded value (absent while never set). */
export interface StoredConfig {
  readonly version: number;
  readonly text: string | undefined;
}

/** The outcome of a write: the version current after it, or why nothing was written. */
export type ConfigWrite =
  | { readonly status: 'written'; readonly version: number }
  /** The expected version was not current: `version` is. */
  | { readonly status: 'conflict'; readonly version: number }
  /** Redis caches this key's record, kept in ZooKeeper: only that backend writes it. */
  | { readonly status: 'kept-in-zookeeper' };

/**
 * What {@link LiveConfigService} needs from where values live: versioned reads and
 * compare-and-set writes, and change notices. Redis ({@link ConfigStore}) and ZooKeeper
 * ({@link ZooKeeperConfigBackend}) implement it.
 */
export interface ConfigBackend {
  read(name: string): Promise<StoredConfig>;
  /** Writes unless `expectVersion` is given and not current. */
  write(name: string, text: string, expectVersion: number | undefined): Promise<ConfigWrite>;
  /**
   * Tells `listener` the key's current value, then every change from now on; resolves once the
   * current value was told.
   */
  watch(name: string, listener: (change: StoredConfig) => void): Promise<Unsubscribe>;
  /**
   * Calls `listener` whenever changes may have been missed (the listening connection was lost
   * and is back): what was watched must be read again.
   */
  onGap(listener: () => void): () => void;
  /** Stops what runs in the background (at application shutdown). */
  close(): void;
}
