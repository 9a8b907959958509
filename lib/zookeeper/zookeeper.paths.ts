import { randomBytes } from 'node:crypto';
import type { NodeMode, ZooKeeperSession } from './zookeeper.session.js';

/**
 * A name (a lock's resource, a service, an instance id) as one ZooKeeper path segment:
 * encodeURIComponent escapes '/', and '.' is escaped too, as ZooKeeper refuses '.' and '..' as
 * whole segments.
 */
export function nodeName(name: string): string {
  return encodeURIComponent(name).replace(/\./g, '%2E');
}

/** The name {@link nodeName} made `node` from; undefined for a node it cannot have made. */
export function nameOfNode(node: string): string | undefined {
  try {
    return decodeURIComponent(node);
  } catch {
    return undefined;
  }
}

/**
 * A random token to find one's own sequential nodes by name (after a create whose reply was
 * lost, or a delete that could not be sent): base64url without `-`, which recipes use to
 * separate the parts of a node's name.
 */
export function nodeToken(): string {
  return randomBytes(9).toString('base64url').replace(/-/g, '_');
}

/**
 * Creates `<parent>/<name>`, and the parent (persistent, with its own parents) when it is
 * missing or was just cleaned up; resolves with the node's path, sequence number included.
 */
export async function createUnder(
  session: ZooKeeperSession,
  parent: string,
  name: string,
  data: Buffer | undefined,
  mode: NodeMode,
): Promise<string> {
  for (;;) {
    const created = await session.create(`${parent}/${name}`, data, mode);
    if (created) return created;
    await session.ensurePath(parent);
  }
}
