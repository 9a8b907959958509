import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * This instance is not (or no longer) the leader of an election: its lease ran out (the process
 * paused or Redis was unreachable for longer than the lease), Redis lost it (restart,
 * failover), or the instance left the election. `signal`s of the term are aborted with it; work
 * done as the leader must stop.
 */
export class LeadershipLostError extends RedisCoordinationError {
  constructor(
    readonly election: string,
    /** The term that ended; undefined when this instance had not been elected. */
    readonly term: number | undefined,
    /** Why, in a few words. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'LEADERSHIP_LOST',
      `Leadership of election ${JSON.stringify(election)}${term === undefined ? '' : ` (term ${term})`} lost: ${reason}`,
      options,
    );
  }
}
