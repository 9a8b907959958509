import { RedisCoordinationError } from '../common/coordination.error.js';

/** `set()` with `expectVersion` found another version current: someone else changed it first. */
export class ConfigVersionConflictError extends RedisCoordinationError {
  constructor(
    readonly key: string,
    readonly expectedVersion: number,
    readonly currentVersion: number,
  ) {
    super(
      'CONFIG_VERSION_CONFLICT',
      `Config "${key}" is at version ${currentVersion}, not ${expectedVersion}: read it again and retry`,
    );
  }
}

/** The module's `liveConfig.validate` refused a value. */
export class ConfigValidationError extends RedisCoordinationError {
  constructor(
    readonly key: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'CONFIG_INVALID',
      `Config "${key}": value refused by liveConfig.validate: ${reason}`,
      options,
    );
  }
}

/** `get()` of a key this instance does not keep a snapshot of. */
export class ConfigNotLoadedError extends RedisCoordinationError {
  constructor(readonly key: string) {
    super(
      'CONFIG_NOT_LOADED',
      `Config "${key}" is not loaded on this instance: list it in liveConfig.keys, or await load('${key}') before get()`,
    );
  }
}

/**
 * `set()` on an instance whose live configuration is on Redis, of a key whose record is kept in
 * ZooKeeper: Redis only caches it, and a write there would fork the two.
 */
export class ConfigReadOnlyError extends RedisCoordinationError {
  constructor(readonly key: string) {
    super(
      'CONFIG_READ_ONLY',
      `Config "${key}" is kept in ZooKeeper and only cached in Redis: set it from an instance with the module option liveConfig: { backend: 'zookeeper' }`,
    );
  }
}
