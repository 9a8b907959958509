import type { LoggerService } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { waitAtMost } from '../common/within.js';
import {
  SHUTDOWN_WAIT_MS,
  type RedisClient,
  type RedisConnections,
} from '../connection/redis-connections.js';
import { RedisCommandError } from '../connection/connection.errors.js';
import type { QueueEvent } from './queue.interfaces.js';
import type { QueueStore } from './queue.store.js';
import { RetryBackoff } from './retry-backoff.js';

/** How long the `listening` key lives without a refresh; readers refresh it three times as often. */
const LISTENING_TTL_MS = 30_000;
/** Longest one read blocks, so a stopped reader's loop notices soon even if a disconnect is lost. */
const READ_BLOCK_MS = 5000;

/** One reading session: from the first subscriber to the last one leaving. */
interface ReaderRun {
  stopping: boolean;
  client?: Promise<RedisClient>;
  refresh: NodeJS.Timeout;
  loop?: Promise<void>;
}

/**
 * Reads one queue's event stream for every subscriber in this process, on one blocking
 * connection, while anyone subscribes. It keeps the queue's `listening` key alive (scripts write
 * events only while it exists, so a queue nobody watches pays nothing for them) and, after a lost
 * connection, resumes after the last event it delivered. A read Redis refuses (an ACL user
 * without `XREAD`) is not retried: its subscribers get the typed error, and a later subscriber
 * starts a new reading session.
 */
export class QueueEventsReader {
  /** The current session's subscribers; replaced when a refused read ends the session. */
  private subject = new Subject<QueueEvent>();
  private subscribers = 0;
  private run?: ReaderRun;
  /** The id of the last event read: the next read starts after it. */
  private position = '0-0';
  /** Settles once the current run listens and knows where the stream ends. */
  private started: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: QueueStore,
    private readonly connections: RedisConnections,
    private readonly logger: LoggerService,
  ) {}

  /** The events from now on; reading starts with the first subscriber, stops after the last. */
  events(): Observable<QueueEvent> {
    return new Observable<QueueEvent>((subscriber) => {
      const subject = this.subject;
      const subscription = subject.subscribe(subscriber);
      if (subject.closed || subject.isStopped) return subscription; // shut down
      if (this.subscribers++ === 0) this.start();
      return () => {
        subscription.unsubscribe();
        // A session ended by a refused read no longer counts its subscribers.
        if (subject === this.subject && --this.subscribers === 0) void this.stop();
      };
    });
  }

  /**
   * Resolves once every event written from now on will reach the subscribers (call it after
   * subscribing); rejects with a typed error if Redis cannot be reached to start listening.
   */
  ready(): Promise<void> {
    return this.started;
  }

  /** Stops reading and completes every subscriber (application shutdown). */
  async close(): Promise<void> {
    await this.stop();
    this.subject.complete();
  }

  private start(): void {
    const run: ReaderRun = {
      stopping: false,
      refresh: setInterval(() => {
        this.store.listen(LISTENING_TTL_MS).catch(() => undefined); // the loop reports outages
      }, LISTENING_TTL_MS / 3),
    };
    run.refresh.unref();
    this.run = run;
    this.started = this.begin().catch(
      this.connections.rethrow(`start reading the events of queue "${this.store.queue}"`),
    );
    run.loop = this.started.then(
      () => this.loop(run),
      () => this.loop(run, true),
    );
  }

  /** Listens first, then reads the stream's end: no event written after `ready()` is missed. */
  private async begin(): Promise<void> {
    await this.store.listen(LISTENING_TTL_MS);
    this.position = await this.store.lastEventId();
  }

  private async loop(run: ReaderRun, failed = false): Promise<void> {
    let relisten = failed;
    /** Paces retries while reads fail; the failure is said once per outage. */
    const backoff = new RetryBackoff();
    while (!run.stopping) {
      try {
        if (relisten) {
          // Never started: begin now. Else keep the position: resume after the last event read.
          if (failed) await this.begin();
          else await this.store.listen(LISTENING_TTL_MS);
          relisten = failed = false;
        }
        run.client ??= this.connections.openBlocking(`queue-events:${this.store.queue}`);
        const client = await run.client;
        if (run.stopping) break;
        for (const event of await this.store.readEvents(client, this.position, READ_BLOCK_MS)) {
          this.position = event.eventId;
          this.subject.next(event);
        }
        backoff.succeeded();
      } catch (error) {
        if (run.stopping) break;
        const failure = this.connections.failure(
          error,
          `read the events of queue "${this.store.queue}"`,
        );
        if (failure instanceof RedisCommandError) {
          this.refused(failure);
          break;
        }
        if (backoff.firstFailure) {
          this.logger.warn(
            `Queue "${this.store.queue}": reading its events failed (${(failure as Error).message}); retrying`,
          );
        }
        // Once Redis is back, listen again before reading: the key may have expired meanwhile.
        relisten = true;
        run.client?.then((client) => client.disconnect()).catch(() => undefined);
        run.client = undefined;
        await backoff.pause();
      }
    }
  }

  /** Ends the session on a read Redis refused: retrying would fail the same way. */
  private refused(failure: RedisCommandError): void {
    const subject = this.subject;
    this.subject = new Subject<QueueEvent>();
    this.subscribers = 0;
    void this.stop();
    subject.error(failure);
  }

  private async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    run.stopping = true;
    clearInterval(run.refresh);
    // Dropping the blocking connection interrupts the read at once.
    run.client?.then((client) => client.disconnect()).catch(() => undefined);
    if (run.loop) await waitAtMost(run.loop, SHUTDOWN_WAIT_MS);
  }
}
