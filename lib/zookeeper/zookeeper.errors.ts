import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * The ZooKeeper ensemble could not be reached, or the session was lost while a call was in
 * flight. The message names the ensemble (credentials never appear) and the cause.
 */
export class ZooKeeperConnectionError extends RedisCoordinationError {
  constructor(
    /** The ensemble's connect string. */
    readonly ensemble: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ZOOKEEPER_CONNECTION', `${message} (ZooKeeper at ${ensemble})`, options);
  }
}

/**
 * ZooKeeper refused a call for a reason other than the connection: no permission for the
 * node (`NO_AUTH`), a bad argument. The message says what could not be done and why.
 */
export class ZooKeeperCommandError extends RedisCoordinationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ZOOKEEPER_COMMAND', message, options);
  }
}
