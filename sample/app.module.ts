import { Module, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { CoordinationDashboardModule, RedisCoordinationModule } from 'nestjs-redis-coordination';
import { BasicAuthGuard } from './dashboard/basic-auth.guard.js';
import { HealthController } from './health/health.controller.js';
import { instanceProvider } from './instance.js';
import { InvoiceRenderer } from './invoices/invoice-renderer.js';
import { InvoicesController } from './invoices/invoices.controller.js';
import { ConfirmationWorker } from './orders/confirmation.worker.js';
import { InventoryListener } from './orders/inventory.listener.js';
import { OrdersController } from './orders/orders.controller.js';
import { OrdersQueryController } from './orders/orders.query.controller.js';
import { OrdersService } from './orders/orders.service.js';
import { SEED_PRODUCTS } from './products/product.js';
import { ProductRepository } from './products/product.repository.js';
import { ProductsController } from './products/products.controller.js';
import { ProductsService } from './products/products.service.js';
import { PeersController } from './peers/peers.controller.js';
import { LeaderController } from './reports/leader.controller.js';
import { SALES_REPORT, SalesReportJob } from './reports/sales-report.job.js';
import { StockAuditJob } from './maintenance/stock-audit.job.js';
import { SettingsController } from './settings/settings.controller.js';
import { SETTINGS_KEY, validateSettings } from './settings/shop-settings.js';
import { StatsController } from './stats/stats.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    TerminusModule.forRoot({ logger: false }),
    ScheduleModule.forRoot(),
    RedisCoordinationModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        url: config.get<string>('REDIS_URL', 'redis://127.0.0.1:6379'),
        keyPrefix: config.get<string>('KEY_PREFIX', 'shop:'),
        ...coordinationBackends(config.get<string>('ZOOKEEPER_CONNECT')),
      }),
      isGlobal: true,
    }),
    CoordinationDashboardModule.register({
      path: 'coordination',
      guard: new BasicAuthGuard(),
      elections: [SALES_REPORT],
    }),
  ],
  controllers: [
    ProductsController,
    OrdersController,
    OrdersQueryController,
    StatsController,
    HealthController,
    SettingsController,
    PeersController,
    LeaderController,
    InvoicesController,
  ],
  providers: [
    instanceProvider,
    ProductRepository,
    ProductsService,
    OrdersService,
    ConfirmationWorker,
    InventoryListener,
    SalesReportJob,
    StockAuditJob,
    InvoiceRenderer,
  ],
})
export class AppModule implements OnApplicationBootstrap {
  constructor(private readonly repository: ProductRepository) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.repository.seed(SEED_PRODUCTS);
  }
}

/**
 * Where the shop coordinates. With ZOOKEEPER_CONNECT (`ZOOKEEPER=1 npm run sample`), what must
 * hold through a Redis failover lives in ZooKeeper: the stock lock, the report's leader, the
 * invoice renders' semaphore, the shop settings of record (cached in Redis) and the peer
 * registry. Queues, pub/sub, counters and the cache stay on Redis.
 */
function coordinationBackends(zookeeper: string | undefined) {
  const backend = zookeeper ? ('zookeeper' as const) : ('redis' as const);
  return {
    ...(zookeeper && { zookeeper: { connectString: zookeeper } }),
    locks: { backend },
    elections: { backend },
    semaphores: { backend },
    liveConfig: { keys: [SETTINGS_KEY], validate: validateSettings, backend },
    // Registered at the address it listens on, once it listens.
    registry: { service: 'shop', ttlMs: 5_000, backend },
  };
}
