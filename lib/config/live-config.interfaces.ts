import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';

/** A live configuration value as this instance holds it. */
export interface ConfigValue<T = unknown> {
  /** `undefined` while the key was never set. */
  readonly value: T | undefined;
  /** 0 while never set; each `set()` adds one. */
  readonly version: number;
}

/** One change of a key, as `observe()` and `@OnConfigChange` see it. */
export interface ConfigChange<T = unknown> extends ConfigValue<T> {
  readonly key: string;
  /** The value this instance held before; `undefined` for `observe()`'s first emission. */
  readonly previous: T | undefined;
}

/**
 * Checks a value before it is stored (`set()`) or applied (a change another instance made):
 * return `false` or a reason, or throw, to refuse it.
 */
export type ConfigValidator = (key: string, value: unknown) => boolean | string | void;

/** Module option `liveConfig`. */
export interface LiveConfigOptions {
  /** Keys loaded before the app serves and kept current on this instance. */
  keys?: string[];
  validate?: ConfigValidator;
  /**
   * Where the values are kept: Redis, or ZooKeeper as the record (needs the module option
   * `zookeeper`), written through to Redis for instances that read it there. One key has one
   * record: every instance that sets a key must use the same backend.
   * @default 'redis'
   */
  backend?: CoordinationBackend;
}

/** Options of `LiveConfigService.set()`. */
export interface SetConfigOptions {
  /** Write only if the key is at this version (compare-and-set); 0 means "never set". */
  expectVersion?: number;
}
