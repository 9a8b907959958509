import { within } from '../common/within.js';
import type { InstanceStatus } from './registry.interfaces.js';

/** What one run of `RegistryOptions.healthCheck` found, and why when down. */
export type HealthVerdict =
  { readonly status: 'up' } | { readonly status: 'down'; readonly reason: string };

/**
 * Runs the instance's health check, bounded by `timeoutMs`. Down when it throws, rejects,
 * resolves `false` or does not settle in time. The reason names the error's class only: health
 * errors (terminus's carry every indicator's details) may hold connection strings.
 */
export async function runHealthCheck(
  check: () => unknown,
  timeoutMs: number,
): Promise<HealthVerdict> {
  const timedOut = new Error(`did not settle within ${timeoutMs} ms`);
  try {
    const answer = await within(Promise.resolve().then(check), timeoutMs, () => timedOut);
    return answer === false ? { status: 'down', reason: 'answered false' } : { status: 'up' };
  } catch (error) {
    return { status: 'down', reason: error === timedOut ? timedOut.message : errorName(error) };
  }
}

/** `InstanceStatus` of a stored record: records written before health checks count as up. */
export function recordStatus(status: unknown): InstanceStatus {
  return status === 'down' ? 'down' : 'up';
}

function errorName(error: unknown): string {
  if (!(error instanceof Error)) return `threw a ${typeof error}`;
  return `threw ${error.name === 'Error' ? error.constructor.name : error.name}`;
}
