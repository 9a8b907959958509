import { AsyncLocalStorage } from 'node:async_hooks';
import type { Leadership } from './election.interfaces.js';

/**
 * The leadership a running `@Leader` method or `@OnElected` handler acts under. It stores only
 * per-call values (no clients, no app state), so two apps in one process never share one.
 */
export const leadershipContext = new AsyncLocalStorage<Leadership>();

/**
 * The leadership the running `@Leader` method or `@OnElected` handler acts under (through any
 * number of awaits): the election, the term to fence writes with, and the signal that aborts
 * when the term ends. `undefined` outside one.
 *
 * @example
 * \@Cron('*\/5 * * * * *')
 * \@Leader('billing-sweeper')
 * async sweep() {
 *   const { term, signal } = currentLeadership()!;
 *   await this.invoices.closeDue({ fencingToken: term, signal });
 * }
 */
export function currentLeadership(): Leadership | undefined {
  return leadershipContext.getStore();
}
