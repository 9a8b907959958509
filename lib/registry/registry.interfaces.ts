import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';

/** A registered instance of a service, as every instance sees it. */
export interface ServiceInstance {
  /** Unique per process: `<host>:<pid>:<random>`. */
  readonly id: string;
  readonly service: string;
  /** Where to reach it, e.g. `http://10.0.0.5:3000`. */
  readonly address: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** When it registered (ms since the epoch, its own clock). */
  readonly registeredAt: number;
  /**
   * `'down'` while the instance's own `healthCheck` fails: listed only by
   * `instances(service, { includeDown: true })`, skipped everywhere else.
   */
  readonly status: InstanceStatus;
}

/** Whether an instance reports itself healthy (see `RegistryOptions.healthCheck`). */
export type InstanceStatus = 'up' | 'down';

/** Module option `registry`: registers this app as an instance of `service`. */
export interface RegistryOptions {
  service: string;
  /**
   * Where others reach this instance. Default: where its HTTP server listens
   * (`http://<host>:<port>`, the machine's host name when it listens on every interface).
   */
  address?: string;
  /** JSON-serialisable facts about the instance (version, zone, weight, …). */
  metadata?: Record<string, unknown>;
  /**
   * Lease of the registration, renewed every third of it: a crashed instance disappears from
   * every view within about this long.
   * @default 10000
   */
  ttlMs?: number;
  /**
   * Run before each heartbeat: while it throws, rejects, resolves `false` or has not settled
   * within a sixth of `ttlMs`, this instance is published as down (other instances'
   * `instances()`, `observe()` and `pick()` skip it) until a check passes again. Made for
   * `@nestjs/terminus`: `() => health.check([...])` rejects when an indicator is down.
   * Its errors are not logged, only their name (they may carry connection strings).
   */
  healthCheck?: () => unknown;
  /**
   * Where the registration lives. On `'zookeeper'` (needs the module option `zookeeper`) it is
   * an ephemeral node: a crashed instance drops out when its ZooKeeper session times out
   * (`zookeeper.sessionTimeoutMs`), and `ttlMs` only paces the health checks. It is also where
   * `instances()`, `observe()` and `pick()` look unless a call says otherwise.
   * @default 'redis'
   */
  backend?: CoordinationBackend;
}

/** Options of every read of the registry: `instances()`, `observe()`, `pick()`. */
export interface RegistryReadOptions {
  /**
   * Where to look: default, the module option `registry.backend` (Redis when unset). An app
   * that does not register itself reads instances registered on ZooKeeper with `'zookeeper'`.
   */
  backend?: CoordinationBackend;
}

/** Options of `ServiceRegistry.instances()`. */
export interface InstancesOptions extends RegistryReadOptions {
  /** Also list the instances whose health check fails (`status: 'down'`). @default false */
  includeDown?: boolean;
}

/** How `pick()` chooses among the live instances not marked down. */
export interface PickOptions extends RegistryReadOptions {
  /** @default 'round-robin' */
  strategy?: 'round-robin' | 'random';
}
