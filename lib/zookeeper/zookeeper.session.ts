/**
 * What the recipes need of a ZooKeeper client, in the library's own terms, so the client package
 * stays behind one adapter (node-zookeeper-client.session.ts). Paths are absolute, under the
 * module's root. Every call rejects with a library error (zookeeper.errors.ts), never the
 * client's. Watches fire once; one watch function set again on a path before it fired is still
 * one watch (it fires once).
 */
export interface ZooKeeperSession {
  /**
   * Creates a node; returns its path (with the sequence number for a sequential node), or
   * undefined when its parent does not exist.
   */
  create(path: string, data: Buffer | undefined, mode: NodeMode): Promise<string | undefined>;
  /** Creates `path` and its missing parents as persistent nodes; an existing node is fine. */
  ensurePath(path: string): Promise<void>;
  /** A node's stat, or undefined when there is none; `watch` fires once on its next change. */
  exists(path: string, watch?: (change: NodeChange) => void): Promise<NodeStat | undefined>;
  /** A node's data and stat, or undefined when there is none. */
  getData(
    path: string,
    watch?: (change: NodeChange) => void,
  ): Promise<{ data: Buffer; stat: NodeStat } | undefined>;
  /** A node's children's names, or undefined when the node is gone. */
  getChildren(path: string, watch?: (change: NodeChange) => void): Promise<string[] | undefined>;
  /** Sets a node's data if its version is `version` (-1: any): its new stat, or why not. */
  setData(
    path: string,
    data: Buffer,
    version: number,
  ): Promise<NodeStat | 'version-mismatch' | 'no-node'>;
  /**
   * Deletes a node if its version is `version` (-1: any). False when it was not there, or not
   * empty with `ifEmpty` (a parent that found new children).
   */
  remove(path: string, options?: { version?: number; ifEmpty?: boolean }): Promise<boolean>;
}

/** How a node lives: persistent, or ephemeral (gone with the session that made it). */
export type NodeMode = 'persistent' | 'ephemeral' | 'ephemeral-sequential';

/** What a watch saw change. */
export type NodeChange = 'created' | 'deleted' | 'data' | 'children';

/** The parts of a node's stat the recipes read. */
export interface NodeStat {
  /** The transaction that created the node: increases across the whole ensemble. */
  readonly czxid: number;
  /** Bumped by every setData. */
  readonly version: number;
  /** The session that owns an ephemeral node, as hex ('0' for a persistent one). */
  readonly ephemeralOwner: string;
}
