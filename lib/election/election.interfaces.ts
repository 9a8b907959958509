import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';

/** Options of `LeaderElectionService.join()`. */
export interface JoinElectionOptions {
  /**
   * Where the election is held: `'redis'` (a lease), or `'zookeeper'` (needs the module option
   * `zookeeper`): Curator's LeaderLatch, whose leader holds as long as its ZooKeeper session and
   * survives a Redis failover. All candidates of an election must use the same backend: the two
   * do not see each other's candidates, and their terms are not comparable.
   * @default the module option `elections.backend`, else 'redis'
   */
  backend?: CoordinationBackend;
  /**
   * The leader's lease in milliseconds, renewed by a watchdog about every third of it. A leader
   * that crashes or is cut off from Redis is replaced this long after its last renewal; the
   * leader itself stops believing it leads a little before (see the README's guarantees).
   * From 100 ms to 24 h. On ZooKeeper the session is the lease (`zookeeper.sessionTimeoutMs`):
   * `leaseMs` is checked, and only paces retries after errors.
   * @default 10_000
   */
  leaseMs?: number;
}

/** The defaults of {@link JoinElectionOptions}. */
export const DEFAULT_ELECTION_OPTIONS = Object.freeze({ leaseMs: 10_000 });

/** Who leads an election, read at one instant (`LeaderElectionService.leader()`). */
export interface CurrentLeader {
  /** The leader's `instanceId`, or null when nobody leads. */
  readonly leader: string | null;
  /** The leader's term; null when nobody leads. */
  readonly term: number | null;
}

/** Who leads an election, as `LeaderElectionService.observe()` reports it. */
export interface LeaderState {
  /** The leader's `instanceId` (`LeaderElectionService.instanceId` on that instance), or null. */
  readonly leader: string | null;
  /**
   * The leader's term: strictly increasing across leaders. With no leader, the term of the last
   * leader this observer saw (0 if none).
   */
  readonly term: number;
}

/** One term of this instance as the leader of an election. */
export interface Leadership {
  /** The election's name. */
  readonly election: string;
  /**
   * Strictly greater than every earlier leader's term of this election: pass it to storage that
   * refuses writes with a lower term than the last it accepted (fencing).
   */
  readonly term: number;
  /** Aborted, with a `LeadershipLostError` as reason, as soon as this term ends. */
  readonly signal: AbortSignal;
}
