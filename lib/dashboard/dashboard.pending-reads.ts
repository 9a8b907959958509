import type { LeaderState } from '../election/election.interfaces.js';

/**
 * Reads the dashboard needs that the library's services do not offer yet:
 * `PubSubService.groups(channel)`, `LeaderElectionService.leader(name)` and the age of a queue's
 * oldest waiting job. `undefined` means not available; the page says so.
 */
export interface DashboardPendingReads {
  channelGroups(channel: string): Promise<readonly unknown[] | undefined>;
  leader(election: string): Promise<LeaderState | undefined>;
  oldestWaitingMs(queue: string): Promise<number | undefined>;
}

/** Until those reads land, every one is unavailable. */
export const NOT_AVAILABLE_YET: DashboardPendingReads = Object.freeze({
  channelGroups: () => Promise.resolve(undefined),
  leader: () => Promise.resolve(undefined),
  oldestWaitingMs: () => Promise.resolve(undefined),
});
