import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { RedisHealthIndicator } from 'nestjs-redis-coordination';
import { CONFIRMATIONS_QUEUE } from '../orders/order.js';
import { SALES_REPORT } from '../reports/sales-report.job.js';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedisHealthIndicator,
  ) {}

  /**
   * Readiness: 200 while Redis answers, confirmations do not wait over a minute, billing keeps up
   * with placed orders and some instance leads the sales report; 503 otherwise.
   */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.redis.isHealthy('redis'),
      () => this.redis.queueBacklog('confirmations', CONFIRMATIONS_QUEUE, { maxWaitingMs: 60_000 }),
      () => this.redis.durableGroupLag('billing', 'orders.placed', 'billing', { maxLag: 1000 }),
      () => this.redis.leaderElected('sales-report-leader', SALES_REPORT),
    ]);
  }
}
