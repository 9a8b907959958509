import { appendMethodMetadata } from '../common/handler-discovery.js';
import { assertName } from '../common/validate.js';
import { ON_ELECTED_METADATA, ON_REVOKED_METADATA } from '../redis-coordination.constants.js';
import type { DecoratedElection } from './election.explorer.js';

/**
 * Calls the method when this instance is elected leader of `name`, with the `Leadership`
 * (`{ election, term, signal }`); `currentLeadership()` works inside. The app joins the
 * election at bootstrap. A handler may run for the whole term (until `signal` aborts); the
 * term's `@OnRevoked` handlers wait for it. Errors are logged. Stackable.
 *
 * @example
 * \@OnElected('billing-sweeper')
 * async startSweeping({ term, signal }: Leadership) {
 *   while (!signal.aborted) await this.sweepOnce(term, signal);
 * }
 */
export function OnElected(name: string): MethodDecorator {
  return termDecorator(ON_ELECTED_METADATA, name);
}

/**
 * Calls the method when this instance's term as leader of `name` ends (lease lost, left, app
 * shutdown), with the `Leadership` (its `signal` already aborted) and the `LeadershipLostError`
 * saying why; after that term's `@OnElected` handlers settled. Errors are logged. Stackable.
 *
 * @example
 * \@OnRevoked('billing-sweeper')
 * stopSweeping(leadership: Leadership, reason: LeadershipLostError) {
 *   this.logger.warn(reason.message);
 * }
 */
export function OnRevoked(name: string): MethodDecorator {
  return termDecorator(ON_REVOKED_METADATA, name);
}

function termDecorator(metadataKey: string, name: string): MethodDecorator {
  assertName('election name', name);
  return (_target, _key, descriptor) => {
    const election: DecoratedElection = { name };
    appendMethodMetadata(metadataKey, election, descriptor.value as object);
    return descriptor;
  };
}
