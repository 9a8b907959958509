import type { Unsubscribe } from '../connection/subscription-hub.js';

/** An instance's record as stored: its id and the JSON written at registration. */
export interface StoredInstance {
  readonly id: string;
  readonly record: string;
}

/**
 * What {@link ServiceRegistry} needs from where registrations live: registrations renewed by
 * heartbeat, removal, the live list, and change notices. Redis ({@link RegistryStore}) keeps
 * leases; ZooKeeper ({@link ZooKeeperRegistry}) ephemeral nodes. Both store the record the
 * service wrote, as is.
 */
export interface RegistryBackend {
  /**
   * Registers or renews `id` for `ttlMs` with `record`; true when it was not registered. Both a
   * new registration and a renewal that changes the record are announced to watchers.
   */
  register(service: string, id: string, record: string, ttlMs: number): Promise<boolean>;
  deregister(service: string, id: string): Promise<void>;
  /** The live instances; those whose lease ran out are removed (and announced) on the way. */
  list(service: string): Promise<StoredInstance[]>;
  /**
   * Calls `listener` whenever the service's instances may have changed (the listener re-reads).
   * Resolves once changes are followed; never rejects (it keeps trying on its own).
   */
  watch(service: string, listener: () => void): Promise<Unsubscribe>;
  /**
   * Bounds a best-effort call at shutdown: rejects at once while the backend is unreachable.
   */
  atShutdown<T>(what: string, call: () => Promise<T>): Promise<T>;
}
