import {
  ForbiddenException,
  Injectable,
  UnsupportedMediaTypeException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { DASHBOARD_ACTION_HEADER } from './dashboard.constants.js';

type Headers = Record<string, string | string[] | undefined>;

/**
 * Lets a dashboard action (a POST) through only with the {@link DASHBOARD_ACTION_HEADER} header
 * and a JSON body type: a forged cross-site form can send neither (403, 415), so an operator's
 * session cannot be used from another site. A permissive CORS setup (`enableCors({ origin: true,
 * credentials: true })`) would approve another site's preflight for that header, so a request a
 * browser marks as cross-site (`Sec-Fetch-Site`, or an `Origin` other than the Host) is refused
 * too. Runs after the user's guard.
 */
@Injectable()
export class DashboardActionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const { headers } = context.switchToHttp().getRequest<{ headers: Headers }>();
    if (headers[DASHBOARD_ACTION_HEADER] !== '1') {
      throw new ForbiddenException(
        `Dashboard actions need the header "${DASHBOARD_ACTION_HEADER}: 1" (sent by the dashboard page)`,
      );
    }
    const crossSite = crossSiteReason(headers);
    if (crossSite !== undefined) {
      throw new ForbiddenException(
        `Dashboard actions are taken only from the dashboard's own origin: ${crossSite}`,
      );
    }
    const type = headers['content-type'];
    if (typeof type !== 'string' || !/^application\/json\s*(;|$)/i.test(type)) {
      throw new UnsupportedMediaTypeException(
        'Dashboard actions take Content-Type: application/json',
      );
    }
    return true;
  }
}

/** Why a request comes from another site, by the headers browsers set; none from non-browsers. */
function crossSiteReason(headers: Headers): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    return `Sec-Fetch-Site is "${String(site)}"`;
  }
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  // Scheme left out: behind a TLS-terminating proxy the app sees http while the page is https.
  const originHost =
    typeof origin === 'string' ? /^[a-z][a-z\d+.-]*:\/\/([^/]+)$/i.exec(origin)?.[1] : undefined;
  const host = headers.host;
  if (
    originHost === undefined ||
    typeof host !== 'string' ||
    originHost.toLowerCase() !== host.toLowerCase()
  ) {
    return `Origin ${JSON.stringify(origin)} is not this host (${JSON.stringify(host)})`;
  }
  return undefined;
}
