import type { Candidate } from './election.candidate.js';

/**
 * This instance's place in an election, from `LeaderElectionService.join()` until `leave()`.
 * It stays a candidate throughout: after losing a term it campaigns again.
 *
 * @example
 * const election = await elections.join('billing-sweeper', { leaseMs: 10_000 });
 * if (election.isLeader) await sweep({ fencingToken: election.term!, signal: election.signal });
 */
export class Election {
  /** @internal */
  constructor(
    private readonly candidate: Candidate,
    private readonly leaveElection: () => Promise<void>,
  ) {}

  /** The election's name. */
  get name(): string {
    return this.candidate.name;
  }

  /** The lease the leader holds and renews, in milliseconds. */
  get leaseMs(): number {
    return this.candidate.leaseMs;
  }

  /**
   * True while this instance leads, as far as it can prove: checked against the monotonic
   * clock, so a process resumed after a pause longer than the lease reads false at once.
   */
  get isLeader(): boolean {
    return this.candidate.lease !== undefined;
  }

  /** The current term while this instance leads; strictly greater than any earlier leader's. */
  get term(): number | undefined {
    return this.candidate.lease?.term;
  }

  /**
   * The current term's signal, aborted with `LeadershipLostError` the moment the term ends
   * (lease lost, Redis lost it, `leave()`); while not the leader, an aborted signal.
   */
  get signal(): AbortSignal {
    return this.candidate.signal;
  }

  /**
   * Leaves the election: a leader's signal aborts, then the lease is freed and the other
   * candidates are told at once (no waiting for the lease to run out); `@OnRevoked` handlers have
   * run when it resolves. Idempotent. `join()` again to be a candidate again.
   */
  leave(): Promise<void> {
    return this.leaveElection();
  }
}
