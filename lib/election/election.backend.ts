// What LeaderElectionService needs from the system that arbitrates elections, in terms that
// hold for any such system: Redis today (a lease per election, see redis-election.backend.ts),
// ZooKeeper later (Curator's LeaderLatch: ephemeral sequential nodes, the term from the node's
// czxid). The service and the public API depend on this interface only.

/** One term of leadership held by this instance. */
export interface LeaderLease {
  /** Strictly greater than the term of every earlier leader of the election. */
  readonly term: number;
  /** Aborted with a `LeadershipLostError` once the term ends, for whatever reason. */
  readonly signal: AbortSignal;
  /**
   * Whether the term still holds as far as this process can prove. Checks the clock, so a
   * process resumed after a pause learns here that its term ended (aborting `signal`), before
   * the timers that would have told it run.
   */
  confirm(): boolean;
  /**
   * Ends the term: aborts `signal` with `reason` (unless already aborted), then gives the
   * leadership up so that another candidate is elected at once. Never throws: if the backend
   * cannot be reached, the leadership frees itself when the lease runs out.
   */
  resign(reason: string): Promise<void>;
}

/** The result of one attempt to lead. */
export type Attempt =
  { readonly elected: true; readonly lease: LeaderLease } | { readonly elected: false };

/** This instance as a candidate in one election. */
export interface Candidacy {
  /** Tries to become the leader, now. Throws `RedisConnectionError` (or the like) on failure. */
  attempt(): Promise<Attempt>;
  /**
   * Resolves when another attempt may succeed: the leader resigned or its lease may have run
   * out. Also resolves (early) when `signal` aborts. Never rejects.
   */
  standBy(signal: AbortSignal): Promise<void>;
  /** Leaves the election for good (any lease was resigned before). Never rejects. */
  withdraw(): Promise<void>;
}

/** Who leads an election right now, as the backend knows it. */
export interface LeaderRecord {
  /** The leader's instance id, or null when nobody leads. */
  readonly leader: string | null;
  /** The leader's term; null when nobody leads. */
  readonly term: number | null;
  /**
   * When this answer may change without any notice from {@link ElectionBackend.watch}
   * (Redis: when the leader's lease ends unless renewed), in milliseconds from now.
   */
  readonly recheckInMs?: number;
}

/** The elections of one app instance. */
export interface ElectionBackend {
  /** How this instance is named as a leader ({@link LeaderRecord.leader}). */
  readonly instanceId: string;
  /** Enters the election `name` with this lease. */
  candidacy(name: string, leaseMs: number): Candidacy;
  /** Reads who leads `name` now. */
  read(name: string): Promise<LeaderRecord>;
  /**
   * Calls `onChange` whenever the leader of `name` may have changed (and after any lapse in
   * hearing about changes, such as a reconnect); resolves once listening, with the function
   * that stops it.
   */
  watch(name: string, onChange: () => void): Promise<() => void>;
  /**
   * At application shutdown, before the elections are left: from then on, giving up a
   * leadership does not wait for an unreachable backend.
   */
  beginShutdown(): void;
  /** At application shutdown, after the elections were left: stops listening. */
  close(): Promise<void>;
}
