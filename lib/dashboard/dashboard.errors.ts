import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * `CoordinationDashboardModule.register()` options are invalid, e.g. neither a `guard` nor
 * `unguarded: true`: the dashboard can retry and remove jobs, so it is never mounted open by
 * accident. Lists every problem at once.
 */
export class DashboardOptionsError extends RedisCoordinationError {
  constructor(readonly problems: readonly string[]) {
    super(
      'DASHBOARD_OPTIONS',
      `Invalid CoordinationDashboardModule options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}
