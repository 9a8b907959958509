import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Observable, Subject, filter } from 'rxjs';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertName } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import type { ConfigBackend, StoredConfig } from './live-config.backend.js';
import {
  ConfigNotLoadedError,
  ConfigReadOnlyError,
  ConfigValidationError,
  ConfigVersionConflictError,
} from './live-config.errors.js';
import type { ConfigChange, ConfigValue, SetConfigOptions } from './live-config.interfaces.js';
import { resolveExpectVersion } from './live-config.options.js';
import { ConfigStore } from './live-config.store.js';
import { ZooKeeperConfigBackend } from './zookeeper-config.backend.js';

/** What this instance holds of one key. */
interface Snapshot {
  value: unknown;
  version: number;
  unwatch?: Unsubscribe;
}

/**
 * Configuration that changes live on every instance. Each instance keeps a snapshot of the keys
 * it uses, so `get()` is a map lookup; a `set()` is a compare-and-set in Redis announced to every
 * instance in the same step, and after the listening connection was lost (when announcements
 * can be missed) every key is read again and applied by version, so no instance keeps a stale
 * value. Keys listed in the module option `liveConfig.keys` are loaded before the app serves.
 * With `liveConfig: { backend: 'zookeeper' }` the values are kept in ZooKeeper, watched there,
 * and written through to Redis for the instances that read it.
 *
 * @example
 * const flags = liveConfig.get<Flags>('feature-flags');
 * const version = await liveConfig.set('feature-flags', next, { expectVersion: 7 }); // 8
 */
@Injectable()
export class LiveConfigService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('LiveConfigService');
  private readonly backend: ConfigBackend;
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly changes = new Subject<ConfigChange>();
  /** Set on the first key kept: an app without live configuration opens no subscriber connection. */
  private offGap?: () => void;

  constructor(
    private readonly connections: RedisConnections,
    zookeeper: ZooKeeperConnection,
  ) {
    const store = new ConfigStore(connections);
    this.backend =
      connections.liveConfig.backend === 'zookeeper'
        ? new ZooKeeperConfigBackend(zookeeper, store, this.logger)
        : store;
  }

  /** Loads `liveConfig.keys` before the app serves; fails start if its backend cannot be read. */
  async onModuleInit(): Promise<void> {
    await this.load(...this.connections.liveConfig.keys);
  }

  /**
   * Starts keeping `names` current on this instance (keys outside `liveConfig.keys`); resolves
   * once their values are loaded. Loading a key twice is harmless.
   */
  async load(...names: string[]): Promise<void> {
    await Promise.all(names.map((name) => this.loadOne(name)));
  }

  /**
   * The value this instance holds, synchronously; `undefined` while the key was never set.
   * @throws ConfigNotLoadedError for a key not loaded (see {@link load}).
   */
  get<T = unknown>(name: string): T | undefined {
    return this.entry<T>(name).value;
  }

  /** The value and its version, for a compare-and-set that starts from what this instance saw. */
  entry<T = unknown>(name: string): ConfigValue<T> {
    const snapshot = this.snapshots.get(name);
    if (!snapshot) throw new ConfigNotLoadedError(name);
    return { value: snapshot.value as T | undefined, version: snapshot.version };
  }

  /**
   * Stores `value` (through the module codec) and announces it to every instance; resolves to
   * its version. With `expectVersion`, only if the key is still at that version.
   * @throws ConfigVersionConflictError when `expectVersion` is not current; ConfigValidationError
   * when `liveConfig.validate` refuses the value; CodecError when it cannot be encoded.
   */
  async set(name: string, value: unknown, options: SetConfigOptions = {}): Promise<number> {
    assertName('config key', name);
    const expectVersion = resolveExpectVersion(options);
    this.validate(name, value);
    const text = this.connections.codec.encode(value);
    const size = Buffer.byteLength(text);
    if (size > this.connections.maxPayloadBytes) {
      throw new InvalidArgumentError(
        'value',
        value,
        `encodes to ${size} bytes, over maxPayloadBytes (${this.connections.maxPayloadBytes})`,
      );
    }
    const written = await this.backend.write(name, text, expectVersion);
    if (written.status === 'kept-in-zookeeper') throw new ConfigReadOnlyError(name);
    if (written.status === 'conflict') {
      throw new ConfigVersionConflictError(name, expectVersion!, written.version);
    }
    this.apply(name, { version: written.version, text });
    return written.version;
  }

  /**
   * The key's value now, then every change, as `{ key, value, version, previous }`. Loads the key
   * on first use.
   */
  observe<T = unknown>(name: string): Observable<ConfigChange<T>> {
    assertName('config key', name);
    return new Observable<ConfigChange<T>>((subscriber) => {
      let inner: { unsubscribe(): void } | undefined;
      let closed = false;
      this.loadOne(name).then(
        () => {
          if (closed) return;
          const { value, version } = this.entry<T>(name);
          subscriber.next({ key: name, value, version, previous: undefined });
          inner = this.changesOf<T>(name).subscribe(subscriber);
        },
        (error: unknown) => subscriber.error(error),
      );
      return () => {
        closed = true;
        inner?.unsubscribe();
      };
    });
  }

  /** Every change of `name` from now on (not its current value). @internal */
  changesOf<T>(name: string): Observable<ConfigChange<T>> {
    return this.changes.pipe(filter((change) => change.key === name)) as Observable<
      ConfigChange<T>
    >;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.offGap?.();
    this.backend.close();
    const watches = [...this.snapshots.values()].map((snapshot) => snapshot.unwatch?.());
    await Promise.allSettled(watches);
    this.changes.complete();
  }

  private loadOne(name: string): Promise<void> {
    assertName('config key', name);
    let loading = this.loading.get(name);
    if (!loading) {
      loading = this.track(name).catch((error: unknown) => {
        this.loading.delete(name);
        void this.snapshots.get(name)?.unwatch?.();
        this.snapshots.delete(name);
        throw error;
      });
      this.loading.set(name, loading);
    }
    return loading;
  }

  private async track(name: string): Promise<void> {
    this.offGap ??= this.backend.onGap(() => void this.reloadAll());
    const snapshot: Snapshot = { value: undefined, version: 0 };
    this.snapshots.set(name, snapshot);
    snapshot.unwatch = await this.backend.watch(name, (change) => this.apply(name, change));
  }

  /** Reads every key again after announcements may have been missed. */
  private async reloadAll(): Promise<void> {
    await Promise.all(
      [...this.snapshots.keys()].map(async (name) => {
        try {
          this.apply(name, await this.backend.read(name));
        } catch (error) {
          this.logger.warn(
            `Could not re-read config "${name}" after the subscriber connection came back: ${(error as Error).message}; it is read again after the next reconnect`,
          );
        }
      }),
    );
  }

  /** Applies a stored value if it is newer than what this instance holds and passes checks. */
  private apply(name: string, stored: StoredConfig): void {
    const snapshot = this.snapshots.get(name);
    if (!snapshot || stored.version <= snapshot.version || stored.text === undefined) return;
    let value: unknown;
    try {
      value = this.connections.codec.decode(stored.text);
      this.validate(name, value);
    } catch (error) {
      // A value written around the library (redis-cli) never reaches a running instance.
      this.logger.error(
        `Config "${name}" version ${stored.version} not applied, keeping version ${snapshot.version}: ${(error as Error).message}`,
      );
      return;
    }
    const previous = snapshot.value;
    snapshot.value = value;
    snapshot.version = stored.version;
    this.changes.next({ key: name, value, version: stored.version, previous });
  }

  private validate(name: string, value: unknown): void {
    const { validate } = this.connections.liveConfig;
    if (!validate) return;
    let verdict: unknown;
    try {
      verdict = validate(name, value);
    } catch (error) {
      throw new ConfigValidationError(name, (error as Error)?.message ?? String(error), {
        cause: error,
      });
    }
    if (verdict === false) throw new ConfigValidationError(name, 'validate returned false');
    if (typeof verdict === 'string') throw new ConfigValidationError(name, verdict);
  }
}
