import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import {
  LEADER_METADATA,
  ON_ELECTED_METADATA,
  ON_REVOKED_METADATA,
} from '../redis-coordination.constants.js';
import { LeaderElectionService, type TermHandler } from './election.service.js';

/**
 * Finds `@Leader`, `@OnElected` and `@OnRevoked` methods. Handlers are registered in
 * `onModuleInit`, before any election can be joined (the app's own `onModuleInit` hooks run
 * after this module's), and every election named is joined at `onApplicationBootstrap`, with
 * the default options unless the app joined it first. The elections are left at shutdown by
 * {@link LeaderElectionService}.
 */
@Injectable()
export class ElectionExplorer implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('LeaderElectionService');
  private readonly named = new Set<string>();

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly elections: LeaderElectionService,
  ) {}

  onModuleInit(): void {
    const decorators = [
      [LEADER_METADATA, 'Leader', undefined],
      [ON_ELECTED_METADATA, 'OnElected', 'elected'],
      [ON_REVOKED_METADATA, 'OnRevoked', 'revoked'],
    ] as const;
    for (const [metadataKey, decorator, kind] of decorators) {
      for (const found of this.discovery.find<string>(metadataKey, decorator)) {
        for (const name of found.metadata) {
          if (kind) this.elections.addHandler(name, kind, found.handler as TermHandler, found.name);
          this.named.add(name);
          this.logger.log(`${found.name} {@${decorator}} -> election "${name}"`);
        }
      }
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all([...this.named].map((name) => this.elections.join(name)));
  }
}
