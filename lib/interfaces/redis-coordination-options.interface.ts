import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { Codec } from '../common/codec.js';
import type { ReplicaAckOptions } from '../connection/replica-acks.js';
import type { CacheModuleOptions } from '../cache/cache.interfaces.js';
import type { LiveConfigOptions } from '../config/live-config.interfaces.js';
import type { RegistryOptions } from '../registry/registry.interfaces.js';
import type { TelemetryOptions } from '../telemetry/telemetry.interfaces.js';
import type { CoordinationBackend, ZooKeeperOptions } from '../zookeeper/zookeeper.interfaces.js';

/** Where a Redis Sentinel deployment is, and which master group to follow. */
export interface SentinelConnectionOptions {
  /** Sentinel addresses, e.g. `[{ host: 'sentinel-1', port: 26379 }]`. */
  sentinels: Array<{ host: string; port: number }>;
  /** Name of the master group the sentinels monitor (`sentinel monitor <name> …`). */
  name: string;
  /** ACL user for the sentinels themselves, when they require one. */
  sentinelUsername?: string;
  /** Password for the sentinels themselves (the data nodes use `redis.password`). */
  sentinelPassword?: string;
}

/** A Redis Cluster: seed nodes plus ioredis cluster options (`redisOptions` reach every node). */
export interface ClusterConnectionOptions {
  /** At least one reachable node; the rest of the topology is discovered. */
  nodes: ClusterNode[];
  /** ioredis `ClusterOptions`; ACL user, password and TLS go in `redisOptions`. */
  options?: ClusterOptions;
}

/**
 * Options of `RedisCoordinationModule.forRoot()` / `forRootAsync()`.
 *
 * Choose at most one of `url`, `sentinel`, `cluster` and `client`; `redis` adds ioredis options
 * to `url` or `sentinel` (or stands alone with `host`/`port`). With none of them the module
 * connects to `localhost:6379`.
 *
 * @example
 * RedisCoordinationModule.forRoot({ url: 'rediss://app:secret@redis.internal:6380/0' })
 * @example
 * RedisCoordinationModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ url: config.getOrThrow('REDIS_URL') }),
 * })
 */
export interface RedisCoordinationModuleOptions {
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url?: string;
  /**
   * ioredis options: `host`, `port`, `username` (ACL user), `password`, `db`, `tls`, …
   * Merged over what `url` says. `keyPrefix` is refused here: use the module's `keyPrefix`,
   * which (unlike ioredis's) also reaches keys that scripts build.
   */
  redis?: RedisOptions;
  /** Connect through Redis Sentinel. */
  sentinel?: SentinelConnectionOptions;
  /** Connect to a Redis Cluster. */
  cluster?: ClusterConnectionOptions;
  /**
   * An ioredis client you own. The module uses it for commands, duplicates it for subscriber
   * and blocking connections (those it closes), and never closes the client itself.
   */
  client?: Redis | Cluster;
  /**
   * Prefix of every key and channel the library writes. Must not contain `{` or `}`: the
   * library puts its own hash tags after it.
   * @default 'coord:'
   */
  keyPrefix?: string;
  /**
   * How long application start waits for Redis to be ready before failing with a
   * `RedisConnectionError`.
   * @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * Batching on the command connection. `'adaptive'` writes a command at once when nothing else
   * is in flight, and sends commands issued while others await replies together, in one write per
   * turn of the event loop (a corked socket, no ioredis Pipeline). `true` is ioredis
   * auto-pipelining, `false` writes every command by itself. On a Cluster, `'adaptive'` means
   * ioredis auto-pipelining. See the `connection` benchmark.
   * @default 'adaptive'
   */
  autoPipelining?: boolean | 'adaptive';
  /**
   * Encodes queue payloads, messages and cache entries.
   * @default new JsonCodec()
   */
  codec?: Codec;
  /**
   * Largest encoded payload (queue job, message, cache entry) accepted, in bytes. Guards Redis
   * memory against a runaway value.
   * @default 1048576 (1 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * Start even though Redis may evict keys (its `maxmemory-policy` is not `noeviction`). By
   * default the module refuses to start then: an evicted lock key lets a second holder in, and
   * evicted jobs and messages vanish without a trace. Set it only for a Redis whose eviction
   * cannot happen or does not matter to you; a warning is logged at start.
   * @default false
   */
  allowEviction?: boolean;
  /**
   * Use Redis 7's sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`) for every channel, the library's own
   * included: a message then travels only within the shard that owns its channel, instead of to
   * every node of a Cluster (one server gains nothing from it). Needs Redis 7. Off by default:
   * sharded pub/sub has no patterns, so `subscribe()` to a pattern fails while it is on; every
   * instance of an app must agree (a message published one way is not received the other way);
   * and after a graceful `CLUSTER FAILOVER` ioredis 6.0 leaves a shard's subscriptions on the
   * demoted master, where messages still arrive but `publish()` no longer counts them.
   * @default false
   */
  shardedPubSub?: boolean;
  /**
   * Live configuration: `keys` are loaded before the app serves and kept current; `validate`
   * refuses values at `set()` and never lets one into a running instance.
   */
  liveConfig?: LiveConfigOptions;
  /**
   * The cache: the near cache's bounds, and whether calls use it by default.
   * @example cache: { local: { ttlMs: 5_000, maxEntries: 50_000 } }
   */
  cache?: CacheModuleOptions;
  /**
   * OpenTelemetry traces and metrics (`true`: both), reported through the providers the app's
   * SDK registers. Needs the package `@opentelemetry/api`; off by default.
   * @example telemetry: true
   */
  telemetry?: boolean | TelemetryOptions;
  /** Registers this app as an instance of a service in the {@link ServiceRegistry}. */
  registry?: RegistryOptions;
  /**
   * A ZooKeeper ensemble, for what must survive a Redis failover: locks, leader elections and
   * semaphores with `backend: 'zookeeper'`. Needs the package node-zookeeper-client; app start fails fast when
   * the ensemble cannot be reached.
   */
  zookeeper?: ZooKeeperOptions;
  /** Module defaults of the locks. */
  locks?: LockModuleOptions;
  /** Module defaults of the leader elections. */
  elections?: ElectionModuleOptions;
  /** Module defaults of the semaphores. */
  semaphores?: SemaphoreModuleOptions;
  /**
   * Wait for this many replicas to confirm each lock acquire (Redis backend), job add and
   * durable publish (Redis `WAIT`) before the call returns, so that a failover cannot lose it;
   * fewer within `timeoutMs` fail the call with `ReplicaAckError`. A call's own `replicaAcks`
   * overrides it (`false`: not for this call). Such writes use a connection of their own:
   * `WAIT` blocks its connection until the replicas confirm or the timeout ends, so they wait
   * behind each other, never the app's other commands. See {@link ReplicaAckOptions}.
   * @default undefined (off)
   * @example
   * RedisCoordinationModule.forRoot({ url, replicaAcks: { replicas: 1, timeoutMs: 500 } })
   */
  replicaAcks?: ReplicaAckOptions;
}

/** Module option `locks`. */
export interface LockModuleOptions {
  /**
   * Where `RedisLockService` takes locks unless a call says otherwise.
   * @default 'redis'
   */
  backend?: CoordinationBackend;
}

/** Module option `elections`. */
export interface ElectionModuleOptions {
  /**
   * Where `LeaderElectionService` (and `@Leader`, `@OnElected`, `@OnRevoked`) holds elections
   * unless `join()` says otherwise.
   * @default 'redis'
   */
  backend?: CoordinationBackend;
}

/** Module option `semaphores`. */
export interface SemaphoreModuleOptions {
  /**
   * Where `SemaphoreService` (and `@WithSemaphore`) keeps permits unless a call says otherwise.
   * @default 'redis'
   */
  backend?: CoordinationBackend;
}

/** The defaults, in one place. */
export const DEFAULT_REDIS_COORDINATION_OPTIONS = Object.freeze({
  keyPrefix: 'coord:',
  connectTimeoutMs: 5000,
  autoPipelining: 'adaptive' as const,
  maxPayloadBytes: 1024 * 1024,
});
