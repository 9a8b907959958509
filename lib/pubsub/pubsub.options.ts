import { InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertCount,
  assertInteger,
  assertMilliseconds,
  assertName,
  assertKnownKeys,
  assertOneOf,
  optionNames,
} from '../common/validate.js';
import {
  DEFAULT_PUBSUB_OPTIONS,
  type BroadcastSubscribeOptions,
  type DurableSubscribeOptions,
  type PublishOptions,
} from './pubsub.interfaces.js';

/** Largest `batchSize`: messages one XREADGROUP reads and one consumer holds at once. */
export const MAX_BATCH_SIZE = 10_000;

/** A checked selector: one channel name, or one pattern. */
export type ResolvedSelector =
  { channel: string; pattern?: undefined } | { pattern: string; channel?: undefined };

/** Durable subscription options after validation, defaults filled in. */
export type ResolvedDurableOptions = Required<DurableSubscribeOptions>;

/** Checks a channel name or `{ pattern }`; bad input throws a typed error naming it. */
export function resolveSelector(selector: unknown): ResolvedSelector {
  if (typeof selector === 'string') {
    assertName('channel', selector);
    return { channel: selector };
  }
  if (selector === null || typeof selector !== 'object' || !('pattern' in selector)) {
    throw new InvalidArgumentError('channel', selector, 'expected a channel name or { pattern }');
  }
  assertPattern(selector.pattern);
  return { pattern: selector.pattern };
}

const PUBLISH_OPTION_NAMES = optionNames<PublishOptions>({
  durable: true,
  maxLen: true,
  replicaAcks: true,
});
/** `subscribe()` also takes `handlerName`, which names the handler in logs. */
const BROADCAST_OPTION_NAMES = optionNames<BroadcastSubscribeOptions & { handlerName?: string }>({
  onUndecodable: true,
  handlerName: true,
});
const DURABLE_OPTION_NAMES = optionNames<DurableSubscribeOptions & { handlerName?: string }>({
  group: true,
  maxDeliveries: true,
  claimIdleMs: true,
  retryDelayMs: true,
  batchSize: true,
  startFrom: true,
  deadLetterMaxLen: true,
  handlerName: true,
});

/**
 * Refuses publish options with a key that is not one (e.g. `maxLength` for `maxLen`), and
 * `replicaAcks` on a broadcast.
 */
export function assertPublishOptions(options: unknown): asserts options is PublishOptions {
  assertKnownKeys('publish options', options, PUBLISH_OPTION_NAMES);
  const { durable, replicaAcks } = options as PublishOptions;
  if (replicaAcks && !durable) {
    throw new InvalidArgumentError(
      'replicaAcks',
      replicaAcks,
      'applies to durable publishes ({ durable: true }): a broadcast is not stored, so no replica keeps it',
    );
  }
}

/** The `MAXLEN` of a durable publish. */
export function resolveMaxLen(options: PublishOptions): number {
  const maxLen = options.maxLen ?? DEFAULT_PUBSUB_OPTIONS.maxLen;
  assertCount('maxLen', maxLen);
  return maxLen;
}

/** Checks broadcast subscription options and fills in defaults. */
export function resolveBroadcastOptions(
  options: BroadcastSubscribeOptions,
): Required<BroadcastSubscribeOptions> {
  assertKnownKeys('subscribe options', options, BROADCAST_OPTION_NAMES);
  const onUndecodable = options.onUndecodable ?? DEFAULT_PUBSUB_OPTIONS.onUndecodable;
  assertOneOf('onUndecodable', onUndecodable, ['raw', 'skip']);
  return { onUndecodable };
}

/** Checks durable subscription options and fills in defaults; bad input throws naming it. */
export function resolveDurableOptions(options: DurableSubscribeOptions): ResolvedDurableOptions {
  assertKnownKeys('subscribe options', options, DURABLE_OPTION_NAMES);
  const o = { ...DEFAULT_PUBSUB_OPTIONS, ...withoutUndefined(options) };
  assertName('consumer group', o.group);
  assertCount('maxDeliveries', o.maxDeliveries);
  assertInteger('batchSize', o.batchSize, 1, MAX_BATCH_SIZE);
  assertCount('deadLetterMaxLen', o.deadLetterMaxLen);
  assertMilliseconds('claimIdleMs', o.claimIdleMs, { min: 100 });
  assertMilliseconds('retryDelayMs', o.retryDelayMs);
  assertOneOf('startFrom', o.startFrom, ['oldest', 'latest']);
  return {
    group: o.group,
    maxDeliveries: o.maxDeliveries,
    claimIdleMs: o.claimIdleMs,
    retryDelayMs: o.retryDelayMs,
    batchSize: o.batchSize,
    startFrom: o.startFrom,
    deadLetterMaxLen: o.deadLetterMaxLen,
  };
}

/** Refuses patterns Redis would read differently from what was meant. */
function assertPattern(pattern: unknown): asserts pattern is string {
  assertName('channel pattern', pattern);
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') {
      if (i === pattern.length - 1) {
        throw new InvalidArgumentError('channel pattern', pattern, 'ends with a lone "\\" escape');
      }
      i++;
    } else if (char === '[' && !inClass) {
      inClass = true;
      if (pattern[i + 1] === ']') {
        throw new InvalidArgumentError('channel pattern', pattern, 'has an empty "[]" class');
      }
    } else if (char === ']' && inClass) {
      inClass = false;
    }
  }
  if (inClass) {
    throw new InvalidArgumentError(
      'channel pattern',
      pattern,
      'has a "[" class that is never closed with "]"',
    );
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
