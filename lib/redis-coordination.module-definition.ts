import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { RedisCoordinationModuleOptions } from './interfaces/redis-coordination-options.interface.js';

/** Extra options of `forRoot()`/`forRootAsync()` that shape the module rather than Redis. */
export interface RedisCoordinationModuleExtras {
  /** Register the module's services app-wide, so feature modules need not import it. */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: ConfigurableRedisCoordinationModule,
  MODULE_OPTIONS_TOKEN: REDIS_COORDINATION_OPTIONS,
  OPTIONS_TYPE: REDIS_COORDINATION_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDIS_COORDINATION_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisCoordinationModuleOptions>({
  moduleName: 'RedisCoordination',
})
  .setClassMethodName('forRoot')
  .setExtras<RedisCoordinationModuleExtras>({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** Argument of `RedisCoordinationModule.forRoot()`. */
export type RedisCoordinationModuleForRootOptions = typeof REDIS_COORDINATION_OPTIONS_TYPE;
/** Argument of `RedisCoordinationModule.forRootAsync()`. */
export type RedisCoordinationModuleAsyncOptions = typeof REDIS_COORDINATION_ASYNC_OPTIONS_TYPE;
