import { pathSegment } from '../zookeeper/zookeeper.paths.js';
import type { LockMode } from './lock.interfaces.js';

/**
 * Where a lock lives in ZooKeeper, and how its nodes are named (Curator's InterProcessMutex and
 * InterProcessReadWriteLock layout): one persistent parent per resource under
 * `<root>/locks/`, one ephemeral sequential child per acquisition, `<mode>-<token>-<sequence>`.
 * The token finds an acquisition's own node again after a create whose reply was lost.
 */
export function lockParent(root: string, resource: string): string {
  return `${root}/locks/${pathSegment(resource)}`;
}

/** The name prefix of an acquisition's node; ZooKeeper appends a 10-digit sequence. */
export function lockNodePrefix(mode: LockMode, token: string): string {
  return `${mode}-${token}-`;
}

/** A child of a lock's parent, read from its name. */
export interface LockNode {
  readonly name: string;
  readonly mode: LockMode;
  readonly token: string;
  readonly sequence: number;
}

const NODE_NAME = /^(read|write)-([^-]+)-(\d{10})$/;

/** The lock nodes among a parent's children, in queue order. */
export function queueOf(children: readonly string[]): LockNode[] {
  const nodes: LockNode[] = [];
  for (const name of children) {
    const match = NODE_NAME.exec(name);
    if (match) {
      nodes.push({
        name,
        mode: match[1] as LockMode,
        token: match[2]!,
        sequence: Number(match[3]),
      });
    }
  }
  return nodes.sort((a, b) => a.sequence - b.sequence);
}

/**
 * The node an acquisition waits for, or undefined when it holds the lock: a writer waits for
 * the node just before it; a reader for the last writer before it (readers share).
 */
export function blockerOf(queue: readonly LockNode[], index: number): LockNode | undefined {
  if (queue[index]!.mode === 'write') return queue[index - 1];
  for (let i = index - 1; i >= 0; i--) if (queue[i]!.mode === 'write') return queue[i];
  return undefined;
}
