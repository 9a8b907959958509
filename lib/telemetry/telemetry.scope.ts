/** The instrumentation scope of every span and instrument the library makes. */
export const SCOPE_NAME = 'nestjs-redis-coordination';

/** `messaging.system` of queue jobs and pub/sub messages (no registered value fits). */
export const MESSAGING_SYSTEM = 'nestjs-redis-coordination';
