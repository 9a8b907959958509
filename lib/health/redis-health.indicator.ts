import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { assertKnownKeys, assertMilliseconds } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';

/** One entry of a health check, in the shape `@nestjs/terminus` aggregates. */
export type RedisHealthResult = Record<
  string,
  { status: 'up'; latencyMs: number } | { status: 'down'; message: string }
>;

/**
 * Readiness of the module's Redis: a PING on the command connection, answered within
 * `timeoutMs`. Its result has the shape `@nestjs/terminus` expects (`status: 'up' | 'down'`),
 * so it plugs into `HealthCheckService.check()` without this library depending on terminus.
 *
 * @example
 * ```ts
 * // in a controller with `health: HealthCheckService` and `redisHealth: RedisHealthIndicator`:
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([() => this.redisHealth.isHealthy('redis')]);
 * }
 * ```
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(private readonly connections: RedisConnections) {}

  async isHealthy(key = 'redis', options: { timeoutMs?: number } = {}): Promise<RedisHealthResult> {
    assertKnownKeys('health check options', options, ['timeoutMs']);
    const { timeoutMs = 1000 } = options;
    assertMilliseconds('timeoutMs', timeoutMs, { min: 1 });
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.connections.command.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer to PING within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return {
        [key]: { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 },
      };
    } catch (error) {
      const reason = this.connections.redact((error as Error).message);
      return {
        [key]: { status: 'down', message: `Redis at ${this.connections.target}: ${reason}` },
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
