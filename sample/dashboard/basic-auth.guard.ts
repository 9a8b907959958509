import { randomBytes, timingSafeEqual } from 'node:crypto';
import { UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';

/**
 * The sample's dashboard login, for local use: user `admin` and a password drawn at each start
 * (printed by main.ts), or DASHBOARD_PASSWORD.
 */
export const dashboardLogin = Object.freeze({
  user: 'admin',
  password: process.env.DASHBOARD_PASSWORD ?? randomBytes(12).toString('base64url'),
});

/** HTTP Basic authentication against {@link dashboardLogin}; a 401 makes the browser ask. */
export class BasicAuthGuard implements CanActivate {
  private readonly expected = Buffer.from(
    `Basic ${Buffer.from(`${dashboardLogin.user}:${dashboardLogin.password}`).toString('base64')}`,
  );

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const given = Buffer.from(
      String(http.getRequest<{ headers: Record<string, unknown> }>().headers.authorization ?? ''),
    );
    if (given.length === this.expected.length && timingSafeEqual(given, this.expected)) return true;
    http
      .getResponse<{ setHeader(name: string, value: string): void }>()
      .setHeader('WWW-Authenticate', 'Basic realm="coordination dashboard"');
    throw new UnauthorizedException();
  }
}
