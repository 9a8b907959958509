/** DI token of the checked {@link ResolvedDashboardOptions}. */
export const DASHBOARD_OPTIONS = Symbol('CoordinationDashboardOptions');

/**
 * The header every dashboard action (POST) must carry. A cross-site HTML form cannot set a
 * custom header, and a cross-site `fetch` that sets one needs a CORS preflight the app does not
 * grant: so an action cannot be forged from another site with the operator's cookies.
 */
export const DASHBOARD_ACTION_HEADER = 'x-coordination-dashboard';
