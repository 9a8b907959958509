import type { ZooKeeperConnection } from './zookeeper.connection.js';

/**
 * How long a recipe's parent node stays after this instance last freed a node under it: a name
 * used again soon reuses it (each parent create and delete is one more write to the ensemble's
 * log), and parents of names no longer used do not pile up.
 */
const PARENT_IDLE_MS = 5000;

/**
 * The persistent parents a recipe queues its ephemeral nodes under (a lock's resource, a
 * semaphore), deleted once idle and empty.
 */
export class IdleParents {
  /** Parents to delete if still empty, by path, once idle. */
  private readonly pending = new Map<string, NodeJS.Timeout>();

  constructor(private readonly connection: ZooKeeperConnection) {}

  /** Keeps `parent` while a node is being made under it. */
  inUse(parent: string): void {
    clearTimeout(this.pending.get(parent));
    this.pending.delete(parent);
  }

  /** Deletes nodes; their parents go once idle ({@link PARENT_IDLE_MS}) if nobody queues there. */
  async free(nodes: readonly string[]): Promise<void> {
    await Promise.all(nodes.map((node) => this.connection.session.remove(node)));
    for (const node of nodes) {
      const parent = node.slice(0, node.lastIndexOf('/'));
      clearTimeout(this.pending.get(parent));
      const timer = setTimeout(() => void this.remove(parent), PARENT_IDLE_MS).unref();
      this.pending.set(parent, timer);
    }
  }

  /** At shutdown: deletes the parents waiting to idle out, if still empty. */
  async close(): Promise<void> {
    const parents = [...this.pending.keys()];
    for (const timer of this.pending.values()) clearTimeout(timer);
    await Promise.all(parents.map((parent) => this.remove(parent)));
  }

  private async remove(parent: string): Promise<void> {
    this.pending.delete(parent);
    // Not empty (someone queues there) or unreachable: harmless, another release retries.
    await this.connection.session.remove(parent, { ifEmpty: true }).catch(() => false);
  }
}
