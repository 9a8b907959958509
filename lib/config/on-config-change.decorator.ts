import { appendMethodMetadata } from '../common/handler-discovery.js';
import { assertName } from '../common/validate.js';
import { ON_CONFIG_CHANGE_METADATA } from '../redis-coordination.constants.js';

/**
 * Calls the method with `(value, change)` each time live configuration key `key` changes on this
 * instance (not for the value it starts with). The key is loaded at bootstrap. A throw or
 * rejection is logged; the change is applied all the same.
 *
 * @example
 * \@OnConfigChange('feature-flags')
 * onFlags(flags: Flags, { version, previous }: ConfigChange<Flags>) { ... }
 */
export function OnConfigChange(key: string): MethodDecorator {
  assertName('config key', key);
  return (_target, _name, descriptor) => {
    appendMethodMetadata(ON_CONFIG_CHANGE_METADATA, key, descriptor.value as object);
    return descriptor;
  };
}
