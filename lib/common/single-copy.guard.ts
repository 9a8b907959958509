import { RedisCoordinationError } from './coordination.error.js';
import { MODULE_FORMAT } from './module-format.js';

/**
 * The package ships an ESM build (for `import`) and a CommonJS build (for `require`). If one
 * process loaded both, it would hold two copies of every class: Nest matches providers by class,
 * so a service of one copy cannot be injected where the other copy's class is asked for, and each
 * copy would open its own connections and keep its own lock context. Rather than let an app start
 * in that state, the second copy to load refuses with this error.
 */
export class DuplicatePackageCopyError extends RedisCoordinationError {
  constructor(loaded: ModuleFormat, loading: ModuleFormat) {
    super(
      'DUPLICATE_PACKAGE_COPY',
      `nestjs-redis-coordination is being loaded as ${loading} although this process already ` +
        `loaded it as ${loaded}: Nest would see two copies of every service and token. Load it ` +
        `one way only — the app and every library it uses either all import (ESM) or all ` +
        `require (CommonJS) it.`,
    );
  }
}

type ModuleFormat = typeof MODULE_FORMAT;

// A global symbol, so that both copies (and every realm in the process) find the same record.
const LOADED_AS = Symbol.for('nestjs-redis-coordination.loaded-as');

/** Records which build of the package this process loaded; refuses a second, different one. */
export function claimSingleCopy(): void {
  const record = globalThis as { [LOADED_AS]?: ModuleFormat };
  const loaded = record[LOADED_AS];
  if (loaded !== undefined && loaded !== MODULE_FORMAT) {
    throw new DuplicatePackageCopyError(loaded, MODULE_FORMAT);
  }
  record[LOADED_AS] = MODULE_FORMAT;
}
