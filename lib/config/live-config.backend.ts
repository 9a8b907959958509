import type { Unsubscribe } from '../connection/subscription-hub.js';

/** A key's stored form: its version and encoded value (absent while never set). */
export interface StoredConfig {
  readonly version: number;
  readonly text: string | undefined;
}

/**
 * What {@link LiveConfigService} needs from where values live: versioned reads and
 * compare-and-set writes, and change notices. Redis ({@link ConfigStore}) is the first backend.
 */
export interface ConfigBackend {
  read(name: string): Promise<StoredConfig>;
  /** Writes unless `expectVersion` is given and not current; returns the version now current. */
  write(
    name: string,
    text: string,
    expectVersion: number | undefined,
  ): Promise<{ readonly written: boolean; readonly version: number }>;
  /** Hears every change of `name` announced from now on; resolves once listening. */
  watch(name: string, listener: (change: StoredConfig) => void): Promise<Unsubscribe>;
  /**
   * Calls `listener` whenever notices may have been missed (the listening connection was
   * lost and is back): what was watched must be read again.
   */
  onGap(listener: () => void): () => void;
}
