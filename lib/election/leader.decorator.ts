import { appendMethodMetadata } from '../common/handler-discovery.js';
import { createWrappingDecorator } from '../common/method-wrapper.js';
import { assertName } from '../common/validate.js';
import { LEADER_METADATA } from '../redis-coordination.constants.js';
import type { JoinElectionOptions } from './election.interfaces.js';
import { resolveBackendOption } from './election.options.js';
import type { DecoratedElection } from './election.explorer.js';
import { LeaderElectionService } from './election.service.js';

/**
 * Runs the method only while this instance leads the election `name`; elsewhere the call
 * resolves `undefined` without running it (the method then returns a promise). Leadership is
 * checked against the monotonic clock at the call, and the method runs inside the leadership:
 * `currentLeadership()` gives its `term` (to fence writes with) and the `signal` that aborts if
 * the term ends while the method runs.
 *
 * The app joins the election at bootstrap, on `backend` if given (else the module option
 * `elections.backend`), with the default lease (join it in `onModuleInit` to set it). Works on
 * any provider or controller method, in any order with `@Cron`, `@Interval`, routes, guards and
 * other decorators.
 *
 * @example
 * \@Cron('*\/5 * * * * *')
 * \@Leader('billing-sweeper')
 * async sweep() {
 *   const { term, signal } = currentLeadership()!;
 * }
 */
export function Leader(
  name: string,
  options: Pick<JoinElectionOptions, 'backend'> = {},
): MethodDecorator {
  assertName('election name', name);
  const backend = resolveBackendOption('@Leader options', options);
  const election: DecoratedElection = backend ? { name, backend } : { name };
  const wrap = createWrappingDecorator(LeaderElectionService, 'Leader', (elections, call) =>
    elections.runAsLeader(name, call.proceed),
  );
  return (target, key, descriptor) => {
    wrap(target, key, descriptor);
    appendMethodMetadata(LEADER_METADATA, election, descriptor.value as object);
    return descriptor;
  };
}
