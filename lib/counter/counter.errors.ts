import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * A counter cannot be read or changed: its key holds something that is not a 64-bit integer, or
 * a change would leave the signed 64-bit range (Redis then leaves the counter unchanged).
 */
export class CounterValueError extends RedisCoordinationError {
  constructor(
    /** The counter's name, as given to the service. */
    readonly counter: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('COUNTER_VALUE', `Counter "${counter}": ${reason}`, options);
  }
}
