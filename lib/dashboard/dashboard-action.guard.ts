import {
  ForbiddenException,
  Injectable,
  UnsupportedMediaTypeException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { DASHBOARD_ACTION_HEADER } from './dashboard.constants.js';

/**
 * Lets a dashboard action (a POST) through only with the {@link DASHBOARD_ACTION_HEADER} header
 * and a JSON body type: a forged cross-site form can send neither (403, 415), so an operator's
 * session cannot be used from another site. Runs after the user's guard.
 */
@Injectable()
export class DashboardActionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const { headers } = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    if (headers[DASHBOARD_ACTION_HEADER] !== '1') {
      throw new ForbiddenException(
        `Dashboard actions need the header "${DASHBOARD_ACTION_HEADER}: 1" (sent by the dashboard page)`,
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
