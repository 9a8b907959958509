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
}

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
}

/** How `pick()` chooses among the live instances not marked down. */
export interface PickOptions {
  /** @default 'round-robin' */
  strategy?: 'round-robin' | 'random';
}
