import type { KeySpace } from '../connection/key-space.js';

/** The Redis side of one service's registry; all share one hash tag. */
export interface ServiceKeys {
  /** Sorted set of instance ids by lease end (ms, Redis clock). */
  readonly instances: string;
  /** Hash of instance id -> the instance's record (JSON: address, metadata, registeredAt, status). */
  readonly records: string;
  /** Where every registration, removal and expiry is announced. */
  readonly channel: string;
}

export function serviceKeys(keys: KeySpace, service: string): ServiceKeys {
  const base = keys.base('registry', 'service name', service);
  return {
    instances: keys.under(base, 'instances'),
    records: keys.under(base, 'records'),
    channel: keys.under(base, 'changed'),
  };
}
