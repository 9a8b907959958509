import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import {
  LEADER_METADATA,
  ON_ELECTED_METADATA,
  ON_REVOKED_METADATA,
} from '../redis-coordination.constants.js';
import { LeaderElectionService, type TermHandler } from './election.service.js';

/** What `@Leader`, `@OnElected` and `@OnRevoked` record: the election, and `@Leader`'s backend. */
export interface DecoratedElection {
  readonly name: string;
  readonly backend?: CoordinationBackend;
}

/** An election a decorator named, and the first method that chose its backend. */
interface NamedElection {
  readonly backend?: CoordinationBackend;
  readonly chosenBy?: string;
}

/**
 * Finds `@Leader`, `@OnElected` and `@OnRevoked` methods. Handlers are registered in
 * `onModuleInit`, before any election can be joined (the app's own `onModuleInit` hooks run
 * after this module's), and every election named is joined at `onApplicationBootstrap`, with
 * the default options (the backend a `@Leader` chose) unless the app joined it first. The elections are left at shutdown by
 * {@link LeaderElectionService}.
 */
@Injectable()
export class ElectionExplorer implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('LeaderElectionService');
  private readonly named = new Map<string, NamedElection>();

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
      for (const found of this.discovery.find<DecoratedElection>(metadataKey, decorator)) {
        for (const { name, backend } of found.metadata) {
          if (kind) this.elections.addHandler(name, kind, found.handler as TermHandler, found.name);
          this.addElection(name, backend, found.name);
          this.logger.log(`${found.name} {@${decorator}} -> election "${name}"`);
        }
      }
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(
      [...this.named].map(([name, { backend }]) => this.elections.join(name, { backend })),
    );
  }

  /** Records an election to join; two methods that choose different backends for it are refused. */
  private addElection(
    name: string,
    backend: CoordinationBackend | undefined,
    method: string,
  ): void {
    const named = this.named.get(name);
    if (named?.backend && backend && backend !== named.backend) {
      throw new InvalidArgumentError(
        'backend',
        backend,
        `${method} holds election "${name}" on ${backend}, but ${named.chosenBy} on ${named.backend}: give them the same backend`,
      );
    }
    if (!named?.backend) this.named.set(name, backend ? { backend, chosenBy: method } : {});
  }
}
