import { Inject, type Type } from '@nestjs/common';

/** What a wrapping decorator's `invoke` is told about the call it wraps. */
export interface WrappedCall {
  /** The instance the method was called on. */
  readonly instance: object;
  /** `Class.method`, for logs and errors. */
  readonly name: string;
  readonly args: unknown[];
  /** Runs the original method with the original `this` and arguments. */
  readonly proceed: () => unknown;
}

/**
 * A method decorator for methods whose leading parameters are `A`, the parameters of the
 * decorator's key function: the key reads the arguments it names, the method may take more after
 * them, and a key function that reads the wrong type fails to compile.
 */
export type KeyedMethodDecorator<A extends unknown[]> = <
  // `any` for the parameters after the key function's: the method may take anything there.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  M extends (...args: [...A, ...any[]]) => unknown,
>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

/** Hidden property, per service class, through which decorated instances reach the service. */
const serviceProperties = new WeakMap<Type<unknown>, symbol>();

function servicePropertyOf(service: Type<unknown>): symbol {
  let property = serviceProperties.get(service);
  if (!property) {
    property = Symbol(`nestjs-redis-coordination:${service.name}`);
    serviceProperties.set(service, property);
  }
  return property;
}

/**
 * Builds a method decorator that replaces the method, at decoration time, with a wrapper that
 * calls `invoke(service, call)`.
 *
 * - The service arrives through property injection on the decorated class, so each Nest app's
 *   instances use that app's service: no global state, two apps in one process stay apart.
 * - Wrapping at decoration time (not in `onModuleInit`) means Nest routes, `@Cron` jobs and any
 *   caller see the wrapped method.
 * - Metadata already set on the method by other decorators (`@Get`, `@Cron`, `@UseGuards`) is
 *   copied to the wrapper, and later decorators set theirs on the wrapper: order does not matter.
 */
export function createWrappingDecorator<S>(
  service: Type<S>,
  decoratorName: string,
  invoke: (service: S, call: WrappedCall) => unknown,
): MethodDecorator {
  const property = servicePropertyOf(service as Type<unknown>);
  return (target, propertyKey, descriptor) => {
    const original = descriptor.value as unknown;
    const name = `${target.constructor.name}.${String(propertyKey)}`;
    if (typeof original !== 'function') {
      throw new TypeError(`@${decoratorName}() can only decorate methods; ${name} is not one`);
    }
    if (!Object.hasOwn(target, property)) {
      Inject(service)(target, property);
      // Marks the class as injected once, however many methods carry the decorator.
      Object.defineProperty(target, property, {
        value: undefined,
        writable: true,
        enumerable: false,
      });
    }
    const wrapper = function (this: Record<symbol, S | undefined>, ...args: unknown[]): unknown {
      const resolved = this?.[property];
      if (!resolved) {
        throw new Error(
          `@${decoratorName}() on ${name} needs ${service.name}: create ${target.constructor.name} through Nest, in a module that imports RedisCoordinationModule`,
        );
      }
      return invoke(resolved, {
        instance: this,
        name,
        args,
        proceed: () => (original as (...a: unknown[]) => unknown).apply(this, args),
      });
    };
    copyMethodMetadata(original as object, wrapper);
    Object.defineProperty(wrapper, 'name', { value: (original as { name: string }).name });
    Object.defineProperty(wrapper, 'length', { value: (original as { length: number }).length });
    descriptor.value = wrapper as never;
    return descriptor;
  };
}

/** Copies every reflect-metadata entry of `from` onto `to` (Nest keeps route/guard data there). */
export function copyMethodMetadata(from: object, to: object): void {
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
}
