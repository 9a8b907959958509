import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

/** A method of a provider or controller that carries a handler decorator's metadata. */
export interface DiscoveredHandler<M> {
  /** Every metadata entry of the decorator on this method (stackable decorators give several). */
  readonly metadata: readonly M[];
  readonly instance: object;
  readonly methodName: string;
  /** `Class.method`, for logs. */
  readonly name: string;
  /** The method bound to its instance. */
  readonly handler: (...args: unknown[]) => unknown;
}

/**
 * Finds the methods decorated with a handler decorator (`@QueueWorker`, `@OnMessage`) on every
 * provider and controller of the app, through Nest's `DiscoveryService`. Aliases are skipped
 * (they would be found twice); a handler on a request-scoped provider cannot be bound to one
 * instance and is reported by name, not dropped silently.
 */
@Injectable()
export class HandlerDiscovery {
  private readonly logger = new Logger('RedisCoordination');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  find<M>(metadataKey: string, decoratorName: string): DiscoveredHandler<M>[] {
    const found: DiscoveredHandler<M>[] = [];
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const { instance } = wrapper;
      if (wrapper.isAlias || !instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[methodName];
        if (typeof method !== 'function') continue;
        const metadata = this.reflector.get<M[] | undefined>(metadataKey, method);
        if (!metadata?.length) continue;
        const name = `${instance.constructor.name}.${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(
            `@${decoratorName}() on ${name} is ignored: ${instance.constructor.name} is request-scoped (or depends on a request-scoped provider), so there is no single instance to call`,
          );
          continue;
        }
        found.push({
          metadata,
          instance,
          methodName,
          name,
          handler: (method as (...args: unknown[]) => unknown).bind(instance),
        });
      }
    }
    return found;
  }
}

/** Appends `entry` to a method's array metadata, so a stackable decorator can be used twice. */
export function appendMethodMetadata(key: string, entry: unknown, method: object): void {
  const existing = (Reflect.getOwnMetadata(key, method) as unknown[] | undefined) ?? [];
  Reflect.defineMetadata(key, [...existing, entry], method);
}
