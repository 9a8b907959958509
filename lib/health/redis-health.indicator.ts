import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import {
  assertInteger,
  assertKnownKeys,
  assertMilliseconds,
  assertName,
} from '../common/validate.js';
import { within } from '../common/within.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { LeaderElectionService } from '../election/election.service.js';
import type { JoinElectionOptions } from '../election/election.interfaces.js';
import { assertBackend } from '../zookeeper/zookeeper.options.js';
import { PubSubService } from '../pubsub/pubsub.service.js';
import { QueueService } from '../queue/queue.service.js';

/**
 * One entry of a health check, in the shape `@nestjs/terminus` aggregates: `up` with what was
 * measured, or `down` with a message naming the problem.
 */
export type RedisHealthResult<Measured extends object = { latencyMs: number }> = Record<
  string,
  ({ status: 'up' } & Measured) | { status: 'down'; message: string }
>;

/** Options every check takes. */
export interface HealthCheckOptions {
  /** The check answers `down` when Redis has not answered within this time. @default 1000 */
  timeoutMs?: number;
}

/** What a check measured, or why the capability is down. */
type Verdict<Measured> = { up: Measured } | { down: string };

/**
 * Readiness of the module's Redis and of what the app runs on it, each check answering in the
 * shape `@nestjs/terminus` expects (`status: 'up' | 'down'`), so it plugs into
 * `HealthCheckService.check()` without this library depending on terminus. A check that cannot
 * reach Redis within `timeoutMs` answers `down` with the redacted target; bad arguments throw
 * the library's typed errors (a mistake in the probe's code, not an unhealthy app).
 *
 * @example
 * ```ts
 * // in a controller with `health: HealthCheckService` and `redisHealth: RedisHealthIndicator`:
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([
 *     () => this.redisHealth.isHealthy('redis'),
 *     () => this.redisHealth.queueBacklog('mail-queue', 'mail', { maxWaitingMs: 60_000 }),
 *   ]);
 * }
 * ```
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly connections: RedisConnections,
    private readonly queues: QueueService,
    private readonly pubsub: PubSubService,
    private readonly elections: LeaderElectionService,
  ) {}

  /** A PING on the command connection: `up` with its round-trip time. */
  async isHealthy(key = 'redis', options: HealthCheckOptions = {}): Promise<RedisHealthResult> {
    const timeoutMs = resolveTimeout(options, []);
    const started = performance.now();
    return this.check(key, timeoutMs, async () => {
      await this.connections.command.ping();
      return { up: { latencyMs: Math.round((performance.now() - started) * 100) / 100 } };
    });
  }

  /**
   * `down` when the queue's oldest waiting job has waited longer than `maxWaitingMs` (workers
   * are not keeping up, or none runs); `up` with that wait (null when nothing waits). See
   * `QueueService.oldestWaiting()` for how the wait is counted.
   */
  async queueBacklog(
    key: string,
    queue: string,
    options: HealthCheckOptions & { maxWaitingMs: number },
  ): Promise<RedisHealthResult<{ oldestWaitingMs: number | null }>> {
    const timeoutMs = resolveTimeout(options, ['maxWaitingMs']);
    assertName('queue name', queue);
    assertMilliseconds('maxWaitingMs', options.maxWaitingMs, { min: 0 });
    return this.check(key, timeoutMs, async () => {
      const oldest = await this.queues.oldestWaiting(queue);
      if (oldest && oldest.waitingMs > options.maxWaitingMs) {
        return {
          down: `job ${oldest.id} of queue "${queue}" has waited ${oldest.waitingMs} ms, over maxWaitingMs (${options.maxWaitingMs})`,
        };
      }
      return { up: { oldestWaitingMs: oldest ? oldest.waitingMs : null } };
    });
  }

  /**
   * `down` when the consumer group `group` of the durable channel lags more than `maxLag`
   * messages (published and not yet delivered to it), has more than `maxPending` delivered and
   * not acknowledged (when given), or does not exist; `up` with both figures.
   */
  async durableGroupLag(
    key: string,
    channel: string,
    group: string,
    options: HealthCheckOptions & { maxLag: number; maxPending?: number },
  ): Promise<RedisHealthResult<{ lag: number; pending: number }>> {
    const timeoutMs = resolveTimeout(options, ['maxLag', 'maxPending']);
    assertName('channel', channel);
    assertName('group', group);
    const { maxLag, maxPending } = options;
    assertInteger('maxLag', maxLag, 0);
    if (maxPending !== undefined) assertInteger('maxPending', maxPending, 0);
    return this.check(key, timeoutMs, async () => {
      const found = (await this.pubsub.groups(channel)).find((info) => info.group === group);
      if (!found) return { down: `channel "${channel}" has no consumer group "${group}"` };
      // Where Redis cannot tell the lag, count the undelivered entries, no further than needed.
      const lag =
        found.lag ??
        (await this.pubsub.countUndelivered(channel, found.lastDeliveredId, maxLag + 1));
      const { pending } = found;
      const named = `group "${group}" of channel "${channel}"`;
      if (lag > maxLag) {
        return { down: `${named} lags ${lag} messages, over maxLag (${maxLag})` };
      }
      if (maxPending !== undefined && pending > maxPending) {
        return {
          down: `${named} has ${pending} messages pending, over maxPending (${maxPending})`,
        };
      }
      return { up: { lag, pending } };
    });
  }

  /**
   * `down` when nobody leads the election `name` (no candidate, or the last leader's lease ran
   * out and nobody took over yet); `up` with the leader's instance id and term.
   */
  async leaderElected(
    key: string,
    name: string,
    options: HealthCheckOptions & Pick<JoinElectionOptions, 'backend'> = {},
  ): Promise<RedisHealthResult<{ leader: string; term: number }>> {
    const timeoutMs = resolveTimeout(options, ['backend']);
    assertName('election name', name);
    // Checked here: a bad backend is the probe's mistake (thrown), not an unhealthy app.
    const { backend } = options;
    assertBackend(backend);
    return this.check(key, timeoutMs, async () => {
      const { leader, term } = await this.elections.leader(name, backend ? { backend } : {});
      if (leader === null || term === null) return { down: `no leader elected for "${name}"` };
      return { up: { leader, term } };
    });
  }

  /** Runs a probe within `timeoutMs`; a failure or a timeout is `down` with a redacted reason. */
  private async check<Measured extends object>(
    key: string,
    timeoutMs: number,
    probe: () => Promise<Verdict<Measured>>,
  ): Promise<RedisHealthResult<Measured>> {
    try {
      const verdict = await within(
        probe(),
        timeoutMs,
        () => new Error(`no answer within ${timeoutMs} ms`),
      );
      return {
        [key]: 'up' in verdict ? { status: 'up', ...verdict.up } : down(verdict.down),
      };
    } catch (error) {
      const reason = this.connections.redact((error as Error).message);
      return { [key]: down(`Redis at ${this.connections.target}: ${reason}`) };
    }
  }
}

function down(message: string): { status: 'down'; message: string } {
  return { status: 'down', message };
}

/** Validates a check's options object (its own keys beside `timeoutMs`) and returns the timeout. */
function resolveTimeout(options: HealthCheckOptions, ownKeys: readonly string[]): number {
  assertKnownKeys('health check options', options, ['timeoutMs', ...ownKeys]);
  const { timeoutMs = 1000 } = options;
  assertMilliseconds('timeoutMs', timeoutMs, { min: 1 });
  return timeoutMs;
}
