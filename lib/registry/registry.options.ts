import { describeValue } from '../common/coordination.error.js';
import {
  assertKnownKeys,
  collectProblems,
  assertMilliseconds,
  assertName,
  assertOneOf,
  optionNames,
} from '../common/validate.js';
import type { InstancesOptions, PickOptions, RegistryOptions } from './registry.interfaces.js';

/** The defaults of {@link RegistryOptions}. */
export const DEFAULT_REGISTRY_OPTIONS = Object.freeze({ ttlMs: 10_000 });
/** Below this a heartbeat every third of the lease cannot be kept on a busy machine. */
const MIN_TTL_MS = 1000;

const REGISTRY_OPTION_NAMES = optionNames<RegistryOptions>({
  service: true,
  address: true,
  metadata: true,
  ttlMs: true,
  healthCheck: true,
});
const PICK_OPTION_NAMES = optionNames<PickOptions>({ strategy: true });
const INSTANCES_OPTION_NAMES = optionNames<InstancesOptions>({ includeDown: true });

/** Module option `registry` after validation. */
export type ResolvedRegistryOptions = Required<Omit<RegistryOptions, 'address' | 'healthCheck'>> &
  Pick<RegistryOptions, 'address' | 'healthCheck'>;

/** Checks the module option `registry`, adding a line to `problems` for each fault. */
export function resolveRegistryOptions(
  input: unknown,
  problems: string[],
): ResolvedRegistryOptions | undefined {
  if (input === undefined) return undefined;
  const before = problems.length;
  const check = collectProblems('registry', problems);
  check(() => assertKnownKeys('registry', input, REGISTRY_OPTION_NAMES));
  if (problems.length > before) return undefined;
  const given = input as RegistryOptions;
  const {
    service,
    address,
    metadata = {},
    ttlMs = DEFAULT_REGISTRY_OPTIONS.ttlMs,
    healthCheck,
  } = given;
  check(() => assertName('service name', service));
  if (address !== undefined) check(() => assertName('address', address));
  check(() => assertMilliseconds('ttlMs', ttlMs, { min: MIN_TTL_MS }));
  if (healthCheck !== undefined && typeof healthCheck !== 'function') {
    problems.push(
      `registry.healthCheck must be a function (resolving unless unhealthy), got ${describeValue(healthCheck)}`,
    );
  }
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    problems.push(`registry.metadata must be an object, got ${describeValue(metadata)}`);
  } else {
    check(() => JSON.stringify(metadata));
  }
  return problems.length > before ? undefined : { service, address, metadata, ttlMs, healthCheck };
}

/** Checks `instances()` options. */
export function resolveInstancesOptions(options: unknown): Required<InstancesOptions> {
  assertKnownKeys('instances options', options, INSTANCES_OPTION_NAMES);
  const { includeDown = false } = options as InstancesOptions;
  assertOneOf('includeDown', includeDown, [true, false]);
  return { includeDown };
}

/** Checks `pick()` options and fills in the default strategy. */
export function resolvePickOptions(options: unknown): Required<PickOptions> {
  assertKnownKeys('pick options', options, PICK_OPTION_NAMES);
  const { strategy = 'round-robin' } = options as PickOptions;
  assertOneOf('strategy', strategy, ['round-robin', 'random']);
  return { strategy };
}
