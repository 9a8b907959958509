import type { PipeTransform, Type } from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { appendMethodMetadata } from '../common/handler-discovery.js';
import { handlerParam } from '../common/handler-params.js';
import { assertName, assertOptionsObject } from '../common/validate.js';
import { MESSAGE_ARGS_METADATA, ON_MESSAGE_METADATA } from '../redis-coordination.constants.js';
import type {
  BroadcastSubscribeOptions,
  ChannelSelector,
  DurableSubscribeOptions,
} from './pubsub.interfaces.js';
import { resolveBroadcastOptions, resolveDurableOptions } from './pubsub.options.js';

/** One `@OnMessage` on a method. */
export interface OnMessageMetadata {
  readonly selector: ChannelSelector;
  readonly options: BroadcastSubscribeOptions | DurableSubscribeOptions;
}

/** Which handler argument a parameter decorator stands for. */
export const MessageParam = Object.freeze({ Payload: 0, Context: 1 });

/**
 * Subscribes a provider or controller method to a channel when the app boots, and unsubscribes
 * it at shutdown. Without `group` it is a broadcast handler (every instance of the app gets every
 * message); with `{ group }` it is a durable consumer (every group gets every message, one
 * instance of the group handles it, at least once). Stackable: one method may listen to several
 * channels. Nest guards, interceptors, pipes and exception filters on the method apply; the
 * execution context has type `'redis-pubsub'`, and `switchToRpc().getData()`/`getContext()`
 * give the message and its meta.
 *
 * The method is called with `(message, meta)`, or with what `@MessagePayload()`/
 * `@MessageContext()` parameters ask for.
 *
 * @example
 * @Injectable()
 * class InventoryListener {
 *   @OnMessage('inventory.changed')
 *   @OnMessage({ pattern: 'stock.*' })
 *   refresh(change: InventoryChange, meta: MessageMeta) {}
 *
 *   @OnMessage('orders.placed', { group: 'billing', maxDeliveries: 3 })
 *   @UseInterceptors(MetricsInterceptor)
 *   async bill(@MessagePayload(OrderPipe) order: Order) {}
 * }
 */
export function OnMessage(
  selector: ChannelSelector,
  options: BroadcastSubscribeOptions | DurableSubscribeOptions = {},
): MethodDecorator {
  // Caught when the class is defined, not when the app boots.
  assertOptionsObject('options', options as unknown);
  if ('group' in options && options.group !== undefined) resolveDurableOptions(options);
  else resolveBroadcastOptions(options as BroadcastSubscribeOptions);
  if (typeof selector === 'string') assertName('channel', selector);
  else if (selector !== null && typeof selector === 'object' && 'pattern' in selector) {
    assertName('channel pattern', selector.pattern);
    if ('group' in options && options.group !== undefined) {
      throw new InvalidArgumentError(
        'selector',
        selector,
        '@OnMessage with { group } (durable) takes one channel name, not a pattern',
      );
    }
  } else {
    throw new InvalidArgumentError('channel', selector, 'expected a channel name or { pattern }');
  }
  const entry: OnMessageMetadata = { selector, options };
  return (_target, _key, descriptor) => {
    appendMethodMetadata(ON_MESSAGE_METADATA, entry, descriptor.value as object);
    return descriptor;
  };
}

/**
 * Injects the message into an `@OnMessage` handler parameter, through the given pipes (e.g. a
 * `ValidationPipe`), as `@Payload()` does for Nest microservices. Pass pipe instances: Nest
 * instantiates a pipe class given here only if it is a provider of the handler's module.
 *
 * @example
 * @OnMessage('orders.placed', { group: 'billing' })
 * bill(@MessagePayload(new ParseIntPipe()) orderId: number) {}
 */
export function MessagePayload(
  ...pipes: (Type<PipeTransform> | PipeTransform)[]
): ParameterDecorator {
  return handlerParam(MESSAGE_ARGS_METADATA, MessageParam.Payload, pipes);
}

/**
 * Injects the message's meta (`MessageMeta` or `DurableMessageMeta`) into an `@OnMessage`
 * handler parameter.
 *
 * @example
 * @OnMessage({ pattern: 'inventory.*' })
 * log(@MessageContext() meta: MessageMeta) { console.log(meta.channel); }
 */
export function MessageContext(): ParameterDecorator {
  return handlerParam(MESSAGE_ARGS_METADATA, MessageParam.Context, []);
}
