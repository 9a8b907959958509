/** Module option `zookeeper`: where the ensemble is, for recipes run with `backend: 'zookeeper'`. */
export interface ZooKeeperOptions {
  /** The ensemble, `host:port[,host:port…]`, e.g. `'zk1:2181,zk2:2181,zk3:2181'`. */
  connectString: string;
  /**
   * Session timeout asked of the ensemble: ephemeral nodes (lock holds, registrations) vanish
   * this long after the app's connection is lost. The library counts the session lost on its own
   * clock once disconnected this long, even if no server says so.
   * @default 10000
   */
  sessionTimeoutMs?: number;
  /** The node every path of the library lives under (created when missing). @default '/coord' */
  root?: string;
  /**
   * Digest authentication, `'user:password'`: the library's nodes are then created with ACLs
   * that let only this user read and write them. Redacted from every log line and error.
   */
  digest?: string;
  /**
   * How long app start waits for the first session before failing.
   * @default 10000
   */
  connectTimeoutMs?: number;
}

/** Where a recipe runs. */
export type CoordinationBackend = 'redis' | 'zookeeper';
