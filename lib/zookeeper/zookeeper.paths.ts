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
