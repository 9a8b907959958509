import { describeValue } from '../common/coordination.error.js';
import {
  assertKnownKeys,
  collectProblems,
  assertMilliseconds,
  assertName,
  assertOneOf,
  optionNames,
} from '../common/validate.js';
import type {
  InstancesOptions,
  PickOptions,
  RegistryOptions,
  RegistryReadOptions,
} from './registry.interfaces.js';

/** The defaults of {@link RegistryOptions}. */
export const DEFAULT_REGISTRY_OPTIONS = Object.freeze({ ttlMs: 10_000, backend: 'redis' as const });
/** Below this a heartbeat every third of the lease cannot be kept on a busy machine. */
const MIN_TTL_MS = 1000;

const REGISTRY_OPTION_NAMES = optionNames<RegistryOptions>({
  service: true,
  address: true,
  metadata: true,
  ttlMs: true,
  healthCheck: true,
  backend: true,
});
const PICK_OPTION_NAMES = optionNames<PickOptions>({ strategy: true, backend: true });
const INSTANCES_OPTION_NAMES = optionNames<InstancesOptions>({ includeDown: true, backend: true });
const READ_OPTION_NAMES = optionNames<RegistryReadOptions>({ backend: true });
const BACKENDS = ['redis', 'zookeeper'] as const;

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
    backend = DEFAULT_REGISTRY_OPTIONS.backend,
  } = given;
  check(() => assertOneOf('backend', backend, BACKENDS));
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
  return problems.length > before
    ? undefined
    : { service, address, metadata, ttlMs, healthCheck, backend };
}

/** Read options after validation; `backend` unset means the module's. */
type Resolved<T extends RegistryReadOptions> = Required<Omit<T, 'backend'>> & RegistryReadOptions;

/** Checks `observe()` options. */
export function resolveReadOptions(options: unknown): RegistryReadOptions {
  assertKnownKeys('observe options', options, READ_OPTION_NAMES);
  return { backend: readBackend(options) };
}

/** Checks `instances()` options. */
export function resolveInstancesOptions(options: unknown): Resolved<InstancesOptions> {
  assertKnownKeys('instances options', options, INSTANCES_OPTION_NAMES);
  const { includeDown = false } = options as InstancesOptions;
  assertOneOf('includeDown', includeDown, [true, false]);
  return { includeDown, backend: readBackend(options) };
}

/** Checks `pick()` options and fills in the default strategy. */
export function resolvePickOptions(options: unknown): Resolved<PickOptions> {
  assertKnownKeys('pick options', options, PICK_OPTION_NAMES);
  const { strategy = 'round-robin' } = options as PickOptions;
  assertOneOf('strategy', strategy, ['round-robin', 'random']);
  return { strategy, backend: readBackend(options) };
}

function readBackend(options: RegistryReadOptions): RegistryReadOptions['backend'] {
  if (options.backend !== undefined) assertOneOf('backend', options.backend, BACKENDS);
  return options.backend;
}
