import {
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Req,
  UseFilters,
  UseGuards,
  type Type,
} from '@nestjs/common';
import { QueueJobNotFoundError } from '../queue/queue.errors.js';
import { QueueService } from '../queue/queue.service.js';
import { DashboardActionGuard } from './dashboard-action.guard.js';
import { DashboardErrorFilter } from './dashboard-error.filter.js';
import type { DashboardOverview } from './dashboard.interfaces.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';
import { DashboardReader } from './dashboard.reader.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './page/page.generated.js';

/** The page runs only its own script and style: injected markup could not run script anyway. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";

/**
 * The page, its script and style, and the JSON API behind them. Mounted by
 * {@link dashboardControllerAt} under the configured path, behind the user's guard; actions
 * also pass {@link DashboardActionGuard}. GETs change nothing.
 */
export class DashboardController {
  // Injected by name: this class has no class decorator (its subclass gets @Controller), so no
  // parameter types are emitted for it.
  constructor(
    @Inject(DashboardReader) private readonly reader: DashboardReader,
    @Inject(QueueService) private readonly queues: QueueService,
  ) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CONTENT_SECURITY_POLICY)
  @Header('cache-control', 'no-store')
  page(@Req() request: { originalUrl?: string; url: string }): string {
    // Relative URLs of the page resolve under its own path. The base is relative too, so it
    // holds behind a proxy that strips a prefix before the app sees the request.
    const path = (request.originalUrl ?? request.url).split('?')[0]!;
    const base = path.endsWith('/') ? './' : `./${path.slice(path.lastIndexOf('/') + 1)}/`;
    // A function, so that "$&" and the like in the path are not replacement patterns.
    return DASHBOARD_HTML.replace('%BASE%', () => escapeAttribute(base));
  }

  @Get('dashboard.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  script(): string {
    return DASHBOARD_JS;
  }

  @Get('dashboard.css')
  @Header('content-type', 'text/css; charset=utf-8')
  style(): string {
    return DASHBOARD_CSS;
  }

  @Get('api/overview')
  @Header('cache-control', 'no-store')
  overview(): Promise<DashboardOverview> {
    return this.reader.overview();
  }

  @Post('api/queues/:queue/jobs/:id/retry')
  @HttpCode(200)
  @UseGuards(DashboardActionGuard)
  async retry(@Param('queue') queue: string, @Param('id') id: string): Promise<{ retried: true }> {
    const moved = await this.queues.retryDead(this.shown(queue), [id]);
    if (moved === 0) throw new QueueJobNotFoundError(queue, id, 'not in the dead-letter list');
    return { retried: true };
  }

  @Post('api/queues/:queue/jobs/:id/remove')
  @HttpCode(200)
  @UseGuards(DashboardActionGuard)
  async remove(@Param('queue') queue: string, @Param('id') id: string): Promise<{ removed: true }> {
    // Only dead jobs are removed from here (the page lists no others), checked in the same step
    // as the removal: a job retried meanwhile stays.
    if (!(await this.queues.remove(this.shown(queue), id, { state: 'dead' }))) {
      throw new QueueJobNotFoundError(queue, id, 'not in the dead-letter list');
    }
    return { removed: true };
  }

  @Post('api/queues/:queue/pause')
  @HttpCode(200)
  @UseGuards(DashboardActionGuard)
  async pause(@Param('queue') queue: string): Promise<{ paused: true }> {
    await this.queues.pause(this.shown(queue));
    return { paused: true };
  }

  @Post('api/queues/:queue/resume')
  @HttpCode(200)
  @UseGuards(DashboardActionGuard)
  async resume(@Param('queue') queue: string): Promise<{ paused: false }> {
    await this.queues.resume(this.shown(queue));
    return { paused: false };
  }

  /** Actions reach only the queues the dashboard shows. */
  private shown(queue: string): string {
    if (!this.reader.shows(queue))
      throw new NotFoundException(`Queue "${queue}" is not on the dashboard`);
    return queue;
  }
}

/**
 * A controller class of its own for one `register()`: routes under `options.path`, the user's
 * guard on all of them (Nest's `@UseGuards` on the class), and the error mapping.
 */
export function dashboardControllerAt(
  options: ResolvedDashboardOptions,
): Type<DashboardController> {
  class CoordinationDashboardController extends DashboardController {}
  Controller(options.path)(CoordinationDashboardController);
  if (options.guards.length > 0) UseGuards(...options.guards)(CoordinationDashboardController);
  UseFilters(DashboardErrorFilter)(CoordinationDashboardController);
  return CoordinationDashboardController;
}

function escapeAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
