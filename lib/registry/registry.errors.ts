import { RedisCoordinationError } from '../common/coordination.error.js';

/** `pick()` found no live instance of the service that is healthy and not marked down. */
export class NoInstanceAvailableError extends RedisCoordinationError {
  constructor(
    readonly service: string,
    live: number,
  ) {
    super(
      'NO_INSTANCE_AVAILABLE',
      live === 0
        ? `No live instance of service "${service}" is registered`
        : `All ${live} live instance(s) of service "${service}" are marked down or report themselves unhealthy`,
    );
  }
}
