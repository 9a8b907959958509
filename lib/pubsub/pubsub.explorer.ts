import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import type { ParamsFactory } from '@nestjs/core/helpers/external-context-creator.js';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import { MESSAGE_ARGS_METADATA, ON_MESSAGE_METADATA } from '../redis-coordination.constants.js';
import { MessageParam, type OnMessageMetadata } from './on-message.decorator.js';
import { PubSubService } from './pubsub.service.js';

/** The `ExecutionContext` type guards and interceptors see for an `@OnMessage` handler. */
export const PUBSUB_CONTEXT_TYPE = 'redis-pubsub';

/** Maps `@MessagePayload()`/`@MessageContext()` to the handler's `(message, meta)` arguments. */
const messageParamsFactory: ParamsFactory = {
  exchangeKeyForValue: (type: number, _data: unknown, args: unknown[]) =>
    type === MessageParam.Payload ? args[0] : type === MessageParam.Context ? args[1] : undefined,
};

/**
 * Subscribes every `@OnMessage` method of the app at bootstrap (so all providers exist and
 * `onModuleInit` hooks ran) and unsubscribes them before shutdown, letting running durable
 * handlers finish. Each handler runs through Nest's guards, interceptors, pipes and filters.
 */
@Injectable()
export class PubSubExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('PubSubExplorer');
  private readonly subscriptions: Unsubscribe[] = [];

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly pubsub: PubSubService,
    private readonly contextCreator: ExternalContextCreator,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const found of this.discovery.find<OnMessageMetadata>(ON_MESSAGE_METADATA, 'OnMessage')) {
      // The unbound method carries the guard/interceptor metadata Nest reads.
      const method = (found.instance as Record<string, (...args: unknown[]) => unknown>)[
        found.methodName
      ]!;
      const handler = this.contextCreator.create(
        found.instance,
        method,
        found.methodName,
        MESSAGE_ARGS_METADATA,
        messageParamsFactory,
        undefined,
        undefined,
        undefined,
        PUBSUB_CONTEXT_TYPE,
      );
      for (const { selector, options } of found.metadata) {
        const off = await this.pubsub.subscribe(selector as string, handler, {
          ...options,
          handlerName: found.name,
        } as never);
        this.subscriptions.push(off);
        const kind =
          'group' in options && options.group ? `durable, group "${options.group}"` : 'broadcast';
        const target = typeof selector === 'string' ? selector : `pattern ${selector.pattern}`;
        this.logger.log(`${found.name} {${kind}} -> ${target}`);
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((off) => off()));
  }
}
