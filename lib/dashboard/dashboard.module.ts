import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import { dashboardControllerAt } from './dashboard.controller.js';
import { resolveDashboardOptions, type CoordinationDashboardOptions } from './dashboard.options.js';
import { DashboardReader } from './dashboard.reader.js';
import { DashboardTargets } from './dashboard.targets.js';
import { QueueThroughputSampler } from './dashboard.throughput.js';

/**
 * A page for operators: queues (counts, throughput, dead jobs to retry or remove, pause and
 * resume, schedulers), durable channels, held locks, elections, semaphores, registered services
 * and live configuration keys. Needs `RedisCoordinationModule` with `isGlobal: true`.
 *
 * @example
 * CoordinationDashboardModule.register({ path: 'coordination', guard: AdminGuard })
 * @throws DashboardOptionsError for bad options, and when neither `guard` nor `unguarded: true`
 * is given.
 */
@Module({})
export class CoordinationDashboardModule {
  static register(options: CoordinationDashboardOptions): DynamicModule {
    const resolved = resolveDashboardOptions(options);
    return {
      module: CoordinationDashboardModule,
      imports: [DiscoveryModule],
      controllers: [dashboardControllerAt(resolved)],
      providers: [
        { provide: DASHBOARD_OPTIONS, useValue: resolved },
        HandlerDiscovery,
        DashboardTargets,
        DashboardReader,
        QueueThroughputSampler,
      ],
    };
  }
}
