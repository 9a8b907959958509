import type { LoggerService } from '@nestjs/common';
import { waitAtMost } from '../common/within.js';
import {
  SHUTDOWN_WAIT_MS,
  type RedisClient,
  type RedisConnections,
} from '../connection/redis-connections.js';
import { telemetryOf } from '../telemetry/telemetry.js';
import { tracedHandle } from './pubsub.telemetry.js';
import type { DurableMessageHandler, DurableMessageMeta } from './pubsub.interfaces.js';
import type { ResolvedDurableOptions } from './pubsub.options.js';
import type { ConsumerStore, Delivery } from './pubsub.store.js';

/** Longest a read blocks, so reclaiming runs even when the stream is quiet. */
const MAX_BLOCK_MS = 5000;
/** Pause after an unexpected Redis error before reading again. */
const ERROR_PAUSE_MS = 1000;

/** Settings of one consumer, defaults filled in. */
export interface DurableConsumerSettings extends ResolvedDurableOptions {
  channel: string;
  /** `Class.method` or the function's name, for logs. */
  handlerName: string;
}

/**
 * One consumer of a consumer group on a channel's stream, in this process. Reads new messages
 * with `XREADGROUP BLOCK` on its own blocking connection, runs the handler on each in stream
 * order and acknowledges a batch with one `XACK`. A failed message stays pending and is claimed
 * back (`XCLAIM`, which counts the delivery) after a backoff, without holding up the others;
 * after `maxDeliveries` it moves to the dead-letter stream. Messages pending longer than
 * `claimIdleMs` on a consumer that died are reclaimed with `XAUTOCLAIM`, and the dead consumer,
 * once idle over twice `claimIdleMs` with nothing pending, is removed from the group.
 */
export class DurableConsumer {
  private blocking?: RedisClient;
  private stopping = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private claimCursor = '0-0';
  private nextClaimAt = 0;
  private nextPruneAt = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly connections: RedisConnections,
    private readonly redis: ConsumerStore,
    private readonly settings: DurableConsumerSettings,
    private readonly handler: DurableMessageHandler,
    private readonly logger: LoggerService,
  ) {}

  /** The channel and group this consumer reads. */
  get reads(): { readonly channel: string; readonly group: string } {
    return this.settings;
  }

  /** Creates the group if needed and starts reading; resolves once the consumer is reading. */
  async start(): Promise<void> {
    await this.redis.createGroup(this.settings.startFrom);
    this.blocking = await this.connections.openBlocking(
      `pubsub:${this.settings.channel}:${this.settings.group}`,
    );
    this.loop = this.run();
  }

  /**
   * Stops reading and waits for running handlers (and their acknowledgements). A message whose
   * retry was still waiting stays pending in Redis; another consumer reclaims it.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.loop;
    this.stopping = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    this.wakeUp?.();
    // Dropping the blocking connection interrupts XREADGROUP at once. Entries Redis handed out
    // in a reply that is lost now stay pending on this consumer and are reclaimed by another.
    this.blocking?.disconnect();
    // A read sent while Redis was down is never settled, even by that disconnect (ioredis): wait
    // for the loop a while, no longer. It starts no handler once stopping.
    if (this.loop) await waitAtMost(this.loop, SHUTDOWN_WAIT_MS);
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await this.removeConsumer();
  }

  /** Leaves the group's consumer list tidy; best effort, Redis may be down at shutdown. */
  private async removeConsumer(): Promise<void> {
    if (!this.loop) return; // never started: never joined
    await this.connections
      .atShutdown('leaving the consumer group', () => this.redis.removeConsumer())
      .catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (Date.now() >= this.nextClaimAt) await this.reclaim();
        const batch = await this.readNew();
        if (batch.length > 0) await this.track(this.handleBatch(batch));
      } catch (error) {
        if (this.stopping) break;
        if (error instanceof Error && error.message.startsWith('NOGROUP')) {
          // The stream or group vanished (Redis restarted without persistence, or was flushed).
          this.logger.warn(
            `Consumer group "${this.settings.group}" of channel "${this.settings.channel}" was gone; recreating it`,
          );
          await this.redis
            .createGroup(this.settings.startFrom)
            .catch(() => this.pause(ERROR_PAUSE_MS));
          continue;
        }
        this.logger.warn(
          `Reading channel "${this.settings.channel}" for group "${this.settings.group}" failed: ${this.describe(error)}; retrying`,
        );
        await this.pause(ERROR_PAUSE_MS);
      }
    }
  }

  /** How often stale messages of other consumers are looked for. */
  private get claimEveryMs(): number {
    return Math.max(50, Math.min(MAX_BLOCK_MS, Math.floor(this.settings.claimIdleMs / 2)));
  }

  private readNew(): Promise<Delivery[]> {
    const blockMs = Math.max(1, Math.min(this.claimEveryMs, this.nextClaimAt - Date.now()));
    return this.redis.read(this.blocking!, this.settings.batchSize, blockMs);
  }

  /** Claims messages idle over `claimIdleMs` on other consumers, and handles them. */
  private async reclaim(): Promise<void> {
    const { group, claimIdleMs, batchSize, channel } = this.settings;
    this.nextClaimAt = Date.now() + this.claimEveryMs;
    const { cursor, claimed, deleted } = await this.redis.claimStale(
      claimIdleMs,
      this.claimCursor,
      batchSize,
    );
    this.claimCursor = cursor;
    // More may be waiting: look again at once rather than after the interval.
    if (cursor !== '0-0') this.nextClaimAt = 0;
    // After claiming, so a dead consumer whose last pending messages were just taken goes now.
    if (Date.now() >= this.nextPruneAt) await this.pruneConsumers();
    if (deleted.length > 0) {
      this.logger.warn(
        `${deleted.length} pending message(s) of channel "${channel}" (group "${group}") were trimmed from the stream before being handled: raise maxLen`,
      );
    }
    if (claimed.length === 0) return;
    this.logger.log(
      `Reclaimed ${claimed.length} message(s) of channel "${channel}" (group "${group}") idle over ${claimIdleMs} ms on another consumer`,
    );
    await this.track(this.handleBatch(claimed));
  }

  /**
   * Removes the consumers of processes that stopped without leaving the group (SIGKILL, crash):
   * nothing pending, idle over twice `claimIdleMs`. A live consumer never gets there: it is seen
   * every reclaim cycle (every `claimIdleMs / 2` at most, by claimStale) or has its messages
   * pending while it handles them; one removed anyway (say its event loop stalled) loses nothing
   * and is recreated by its next read. Failing here only delays the tidying; consuming goes on.
   */
  private async pruneConsumers(): Promise<void> {
    const { group, claimIdleMs, channel } = this.settings;
    this.nextPruneAt = Date.now() + claimIdleMs;
    const idleOverMs = 2 * claimIdleMs;
    try {
      const removed = await this.redis.pruneConsumers(idleOverMs);
      if (removed.length === 0) return;
      this.logger.log(
        `Removed ${removed.length} consumer(s) of channel "${channel}" (group "${group}") idle over ${idleOverMs} ms with nothing pending: processes that stopped without leaving the group (${removed.join(', ')})`,
      );
    } catch (error) {
      this.logger.warn(
        `Removing the consumers left behind in group "${group}" of channel "${channel}" failed: ${this.describe(error)}; trying again in ${claimIdleMs} ms`,
      );
    }
  }

  /** Handles entries in order; acknowledges the successful ones with one XACK. */
  private async handleBatch(batch: Delivery[]): Promise<void> {
    // Read after stop() gave up waiting for the loop: left pending for another consumer.
    if (this.stopping) return;
    const done: string[] = [];
    for (const delivery of batch) {
      if (await this.handleOne(delivery)) done.push(delivery.id);
    }
    if (done.length > 0) await this.acknowledge(done);
  }

  /** XACK; at shutdown bounded, as Redis may be down (unacknowledged messages are redelivered). */
  private acknowledge(ids: string[]): Promise<unknown> {
    const xack = () => this.redis.acknowledge(ids);
    return this.stopping ? this.connections.atShutdown('acknowledging messages', xack) : xack();
  }

  /** Runs the handler once; true when the message is done with (handled or dead-lettered). */
  private async handleOne(delivery: Delivery): Promise<boolean> {
    const { channel, group, handlerName } = this.settings;
    // A pending entry trimmed from the stream has no content left to handle.
    if (delivery.payload === null) return true;
    const meta: DurableMessageMeta = {
      channel,
      group,
      id: delivery.id,
      deliveries: delivery.deliveries,
      consumer: this.redis.consumer,
    };
    if (delivery.deliveries > this.settings.maxDeliveries) {
      // Reclaimed after its last allowed delivery: the consumer died while handling it, maybe
      // because of it. Running it again could take down this process too.
      await this.moveToDeadLetter(
        delivery,
        new Error(
          `its consumer stopped during delivery ${delivery.deliveries - 1}, the last allowed`,
        ),
      );
      return false;
    }
    try {
      const message = this.connections.codec.decode(delivery.payload);
      const telemetry = telemetryOf(this.connections);
      if (telemetry?.tracer) {
        const attributes = {
          'messaging.consumer.group.name': group,
          'messaging.message.id': delivery.id,
          'coordination.delivery': delivery.deliveries,
        };
        await tracedHandle(telemetry, channel, delivery.trace, attributes, async () =>
          this.handler(message, meta),
        );
      } else {
        await this.handler(message, meta);
      }
      return true;
    } catch (error) {
      this.logger.error(
        `Handler ${handlerName} failed on message ${delivery.id} of channel "${channel}" (group "${group}", delivery ${delivery.deliveries} of ${this.settings.maxDeliveries}): ${(error as Error)?.stack ?? String(error)}`,
      );
      if (delivery.deliveries >= this.settings.maxDeliveries) {
        await this.moveToDeadLetter(delivery, error);
      } else {
        this.scheduleRetry(delivery);
      }
      return false;
    }
  }

  private async moveToDeadLetter(delivery: Delivery, error: unknown): Promise<void> {
    const { group, deadLetterMaxLen, channel } = this.settings;
    const reason = error instanceof Error ? error.message : String(error);
    const deadId = await this.redis.deadLetter(
      delivery.id,
      delivery.payload!,
      delivery.deliveries,
      reason,
      deadLetterMaxLen,
    );
    if (deadId !== null) {
      this.logger.warn(
        `Message ${delivery.id} of channel "${channel}" (group "${group}") failed ${delivery.deliveries} times; moved to the dead-letter stream as ${deadId}`,
      );
    }
  }

  /**
   * Claims the failed message back after a backoff (counting the delivery in Redis, so a crash
   * in between loses no count) and runs it again. The backoff stays under `claimIdleMs`, so no
   * other consumer reclaims it meanwhile.
   */
  private scheduleRetry(delivery: Delivery): void {
    if (this.stopping) return;
    const { retryDelayMs, claimIdleMs } = this.settings;
    const delay = Math.min(
      retryDelayMs * 2 ** (delivery.deliveries - 1),
      Math.floor(claimIdleMs / 2),
    );
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      const retry = async () => {
        const claimed = await this.redis.claim(delivery.id);
        if (!claimed) return;
        const next = {
          ...delivery,
          payload: claimed.payload,
          deliveries: delivery.deliveries + 1,
        };
        if (await this.handleOne(next)) await this.acknowledge([delivery.id]);
      };
      void this.track(retry()).catch((error: unknown) =>
        this.logger.warn(
          `Retrying message ${delivery.id} of channel "${this.settings.channel}" failed: ${this.describe(error)}; it stays pending and will be reclaimed`,
        ),
      );
    }, delay);
    this.retryTimers.add(timer);
  }

  /** An error's message for a log line, with any credentials in it redacted. */
  private describe(error: unknown): string {
    return this.connections.redact(String((error as Error)?.message ?? error));
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
