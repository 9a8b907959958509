import type { KeySpace } from '../connection/key-space.js';

/** The Redis side of one live configuration key; both share one hash tag. */
export interface ConfigKeys {
  /** Hash with `version` and `value`: `<prefix>{config:<name>}`. */
  readonly entry: string;
  /** Where every change of it is announced: `<prefix>{config:<name>}:changed`. */
  readonly channel: string;
}

export function configKeys(keys: KeySpace, name: string): ConfigKeys {
  const entry = keys.base('config', 'config key', name);
  return { entry, channel: keys.under(entry, 'changed') };
}
