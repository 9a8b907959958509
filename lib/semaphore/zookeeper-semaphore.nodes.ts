import { nodeName } from '../zookeeper/zookeeper.paths.js';

/**
 * Where a semaphore lives in ZooKeeper, and how its nodes are named (after Curator's
 * InterProcessSemaphoreV2, with the lease as the node itself): one persistent parent per
 * semaphore under `<root>/semaphores/`, one ephemeral sequential child per acquisition,
 * `<limit>-<token>-<sequence>`. The limit in the name lets every caller check that the others
 * agree on it; the token finds an acquisition's own node again after a create whose reply was
 * lost.
 */
export function semaphoreParent(root: string, semaphore: string): string {
  return `${root}/semaphores/${nodeName(semaphore)}`;
}

/** The name prefix of an acquisition's node; ZooKeeper appends a 10-digit sequence. */
export function permitNodePrefix(limit: number, token: string): string {
  return `${limit}-${token}-`;
}

/** A child of a semaphore's parent, read from its name. */
export interface PermitNode {
  readonly name: string;
  readonly limit: number;
  readonly token: string;
  readonly sequence: number;
}

const NODE_NAME = /^(\d+)-([^-]+)-(\d{10})$/;

/** The permit nodes among a semaphore's children, in line order (by sequence). */
export function permitLineOf(children: readonly string[]): PermitNode[] {
  const nodes: PermitNode[] = [];
  for (const name of children) {
    const match = NODE_NAME.exec(name);
    if (match) {
      nodes.push({
        name,
        limit: Number(match[1]),
        token: match[2]!,
        sequence: Number(match[3]),
      });
    }
  }
  return nodes.sort((a, b) => a.sequence - b.sequence);
}

/**
 * The nodes the acquisition at `rank` in the line waits for, or none when it holds a permit:
 * fewer than `limit` nodes before it. Otherwise the `limit` nodes just before it: while all of
 * them remain, at least `limit` nodes precede it, and any of them leaving may let it in (one
 * further ahead leaving moves it up as well, so watching only the node just before would miss
 * that). Ranks only fall (new nodes line up last), so at most `limit` nodes ever hold.
 */
export function blockersOf(line: readonly PermitNode[], rank: number, limit: number): PermitNode[] {
  return rank < limit ? [] : line.slice(rank - limit, rank);
}

/**
 * The limit the semaphore is in use with when a node ahead of `rank` gave another than `limit`,
 * else undefined. Only nodes ahead count: they were there first, and nodes only leave the part
 * of the line ahead, so one acquisition that found them all agreeing holds with them alone.
 */
export function otherLimitAhead(
  line: readonly PermitNode[],
  rank: number,
  limit: number,
): number | undefined {
  for (let i = 0; i < rank; i++) if (line[i]!.limit !== limit) return line[i]!.limit;
  return undefined;
}

/**
 * The permits held right now of a semaphore used with `limit`: the nodes at the head of the line
 * that agree on it, at most `limit` (a node behind one with another limit is on its way out).
 */
export function heldOf(line: readonly PermitNode[], limit: number): number {
  let held = 0;
  while (held < Math.min(limit, line.length) && line[held]!.limit === limit) held++;
  return held;
}
