import { randomBytes } from 'node:crypto';
import { WAITER_LEASE_MS } from '../common/waiter-polling.js';
import { retryInBackground } from '../connection/background-retry.js';
import type { RedisConnections } from '../connection/redis-connections.js';
import { ReleaseNotifier } from '../connection/release-notifier.js';
import { RedisScript } from '../connection/script-runner.js';
import type { CountReply, PermitReply, SemaphoreBackend } from './semaphore.backend.js';
import { inboxOf, PERMIT_KEY_PARTS, semaphoreKeys, type SemaphoreKeys } from './semaphore.keys.js';
import {
  acquirePermit,
  countPermits,
  extendPermit,
  releasePermit,
} from './scripts/lua.generated.js';

for (const script of [acquirePermit, releasePermit]) {
  // The keys of an acquisition are built once for both scripts (SemaphoreKeys.permit).
  if (script.keyNames?.join() !== PERMIT_KEY_PARTS.join()) {
    throw new Error(
      `Script ${script.name} takes keys ${String(script.keyNames)}, not ${PERMIT_KEY_PARTS.join()}`,
    );
  }
}
const acquirePermitScript = new RedisScript(acquirePermit);
const extendPermitScript = new RedisScript(extendPermit);
const releasePermitScript = new RedisScript(releasePermit);
const countPermitsScript = new RedisScript(countPermits);

const TAKEN: PermitReply = Object.freeze({ status: 'taken' });

/**
 * Semaphores on Redis: one typed method per script, and the only place that knows their formats,
 * shared with the scripts:
 * - token: `<instance>:<n>`, `instance` naming this service instance (its release inbox,
 *   lib/common/lua/waiterQueue.lua);
 * - the limit is stored as the member `#<limit>` of the holders (scored +inf), the limit
 *   written as the caller wrote it (decimal digits) and compared as text;
 * - acquire flag `w`: join the queue; release flag `q`: leave the queue too;
 * - release message: the token of a waiter that should retry now.
 */
export class SemaphoreStore implements SemaphoreBackend<SemaphoreKeys> {
  /** Names this service instance in its tokens and its release inbox. */
  private readonly instance = `i${randomBytes(12).toString('base64url')}`;
  private tokenCount = 0;
  private readonly notifier: ReleaseNotifier;

  constructor(private readonly connections: RedisConnections) {
    this.notifier = new ReleaseNotifier(connections);
  }

  locate(name: string): SemaphoreKeys {
    return semaphoreKeys(this.connections.keys, name);
  }

  newToken(): string {
    return `${this.instance}:${(this.tokenCount++).toString(36)}`;
  }

  acquire(
    keys: SemaphoreKeys,
    token: string,
    limit: number,
    ttlMs: number,
    join: boolean,
  ): Promise<PermitReply> {
    const args = join ? [token, limit, ttlMs, 'w', WAITER_LEASE_MS] : [token, limit, ttlMs, ''];
    return this.run(acquirePermitScript, keys.permit, args, keys, 'take a permit of', (reply) => {
      // Taken: 1; busy: [0, waitHintMs, ahead]; another limit: [-1, limitInUse].
      if (reply === 1) return TAKEN;
      const [status, value, ahead] = reply as [number, number | string, number];
      if (status === -1) return { status: 'mismatch', limitInUse: Number(value) };
      return { status: 'busy', waitHintMs: Number(value), ahead };
    });
  }

  extend(keys: SemaphoreKeys, token: string, ttlMs: number): Promise<boolean> {
    return this.run(
      extendPermitScript,
      [keys.holders],
      [token, ttlMs],
      keys,
      'renew a permit of',
      (reply) => reply === 1,
    );
  }

  release(keys: SemaphoreKeys, token: string): Promise<void> {
    return this.run(
      releasePermitScript,
      keys.permit,
      [token, keys.channel, '', this.connections.publishCommand],
      keys,
      'release a permit of',
      () => undefined,
    );
  }

  /**
   * Sent now, the release follows an unanswered acquire on the connection, so it undoes it
   * whether Redis ran it or runs it late; while Redis cannot be reached it is tried again until
   * `ttlMs` (the longest that acquire could hold) has passed.
   */
  abandon(keys: SemaphoreKeys, token: string, ttlMs: number): Promise<void> {
    return retryInBackground(
      () =>
        releasePermitScript.run(this.connections.command, keys.permit, [
          token,
          keys.channel,
          'q',
          this.connections.publishCommand,
        ]),
      ttlMs,
      () => this.connections.command.status === 'end',
    );
  }

  count(keys: SemaphoreKeys, limit: number): Promise<CountReply> {
    return this.run(
      countPermitsScript,
      [keys.holders, keys.alive],
      [limit],
      keys,
      'count the permits of',
      (reply): CountReply =>
        typeof reply === 'number'
          ? { status: 'counted', held: reply }
          : { status: 'mismatch', limitInUse: Number((reply as unknown[])[1]) },
    );
  }

  onRelease(keys: SemaphoreKeys, token: string, wake: () => void): Promise<() => void> {
    return this.notifier.watch(inboxOf(keys, this.instance), (message) => {
      if (message === token) wake();
    });
  }

  close(): Promise<void> {
    return this.notifier.close();
  }

  /**
   * Runs a script and parses its reply; a Redis error becomes a RedisConnectionError or
   * RedisCommandError naming the action. One `.then` for both, not `async`: acquire and release
   * are the hot path.
   */
  private run<T>(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    semaphore: SemaphoreKeys,
    action: string,
    parse: (reply: unknown) => T,
  ): Promise<T> {
    return script.run(this.connections.command, keys, args).then(parse, (error: unknown) => {
      throw this.connections.failure(error, `${action} semaphore ${semaphore.name}`);
    });
  }
}
