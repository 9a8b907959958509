import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import { ON_CONFIG_CHANGE_METADATA } from '../redis-coordination.constants.js';
import { LiveConfigService } from './live-config.service.js';

/** Loads the key of every `@OnConfigChange` method at bootstrap and calls it on each change. */
@Injectable()
export class LiveConfigExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('LiveConfigExplorer');
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly config: LiveConfigService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const found = this.discovery.find<string>(ON_CONFIG_CHANGE_METADATA, 'OnConfigChange');
    await this.config.load(...found.flatMap((handler) => handler.metadata));
    for (const { metadata, handler, name } of found) {
      for (const key of metadata) {
        this.subscriptions.push(
          this.config.changesOf(key).subscribe((change) => {
            const failed = (error: unknown) =>
              this.logger.error(
                `${name} failed on config "${key}" version ${change.version}: ${(error as Error)?.stack ?? String(error)}`,
              );
            try {
              const result = handler(change.value, change);
              if (result instanceof Promise) result.catch(failed);
            } catch (error) {
              failed(error);
            }
          }),
        );
        this.logger.log(`${name} {@OnConfigChange} -> config "${key}"`);
      }
    }
  }

  beforeApplicationShutdown(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
  }
}
