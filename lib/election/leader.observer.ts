import type { LoggerService } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import type { ElectionBackend } from './election.backend.js';
import type { LeaderState } from './election.interfaces.js';

/** Pause before reading again after a read failed (Redis unreachable). */
const RETRY_READ_MS = 1000;

/**
 * Who leads `name`, as an Observable: the state read when the subscription starts, then every
 * change. Reads are triggered by the backend's notices and by its `recheckInMs` (a leader that
 * stopped renewing announces nothing), serialized, and only changed states are emitted.
 * `live` holds the running subscriptions, so that shutdown can complete them.
 */
export function observeLeader(
  backend: ElectionBackend,
  name: string,
  logger: LoggerService,
  live: Set<Subscriber<LeaderState>>,
): Observable<LeaderState> {
  return new Observable<LeaderState>((subscriber) => {
    live.add(subscriber);
    let last: LeaderState | undefined;
    let timer: NodeJS.Timeout | undefined;
    let reading = false;
    let readAgain = false;
    let failing = false;
    let stopWatching: (() => void) | undefined;

    const read = async (): Promise<void> => {
      if (reading) {
        readAgain = true;
        return;
      }
      reading = true;
      clearTimeout(timer);
      let recheckInMs: number | undefined;
      try {
        do {
          readAgain = false;
          const record = await backend.read(name);
          recheckInMs = record.recheckInMs;
          const state = { leader: record.leader, term: record.term ?? last?.term ?? 0 };
          if (!subscriber.closed && (state.leader !== last?.leader || state.term !== last?.term)) {
            last = state;
            subscriber.next(state);
          }
        } while (readAgain && !subscriber.closed);
        failing = false;
      } catch (error) {
        if (!failing) {
          logger.warn(
            `Observing election "${name}": ${String(error)}; reading again every ${RETRY_READ_MS} ms`,
          );
        }
        failing = true;
        recheckInMs = RETRY_READ_MS;
      } finally {
        reading = false;
      }
      if (!subscriber.closed && recheckInMs !== undefined) {
        timer = setTimeout(() => void read(), recheckInMs).unref();
      }
    };

    // Listening first, then the first read: a change in between is not missed.
    backend
      .watch(name, () => void read())
      .then(
        (stop) => {
          if (subscriber.closed) return stop();
          stopWatching = stop;
          void read();
        },
        (error: unknown) => subscriber.error(error),
      );
    return () => {
      live.delete(subscriber);
      clearTimeout(timer);
      stopWatching?.();
    };
  });
}
