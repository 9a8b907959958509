import type { PipeTransform, Type } from '@nestjs/common';
import { assignMetadata } from '@nestjs/common';

/**
 * Builds a parameter decorator that asks Nest's `ExternalContextCreator` for argument `param` of
 * a handler (`@MessagePayload()`, `@JobData()`), through `pipes`, under `metadataKey`; the
 * explorer's `ParamsFactory` maps `param` to a value.
 */
export function handlerParam(
  metadataKey: string,
  param: number,
  pipes: readonly (Type<PipeTransform> | PipeTransform)[],
): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined) return;
    const args: object =
      (Reflect.getMetadata(metadataKey, target, key) as object | undefined) ?? {};
    const updated = assignMetadata(args, param, index, undefined, ...pipes);
    // Nest's ExternalContextCreator looks this metadata up from the instance (so through the
    // prototype), route decorators keep it on the class: write both, read the same either way.
    Reflect.defineMetadata(metadataKey, updated, target, key);
    Reflect.defineMetadata(metadataKey, updated, target.constructor, key);
  };
}
