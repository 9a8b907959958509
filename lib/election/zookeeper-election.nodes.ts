import { nodeName } from '../zookeeper/zookeeper.paths.js';

/**
 * Where an election lives in ZooKeeper (Curator's LeaderLatch layout): one persistent parent per
 * election under `<root>/elections/`, and one ephemeral sequential child per candidate,
 * `latch-<token>-<sequence>`, holding the candidate's instance id. The lowest sequence leads.
 * The token, one per candidacy, finds a candidacy's nodes again: one whose create reply was
 * lost, or one whose delete could not be sent.
 */
export function electionParent(root: string, name: string): string {
  return `${root}/elections/${nodeName(name)}`;
}

/** The name prefix of a candidacy's nodes; ZooKeeper appends a 10-digit sequence. */
export function candidateNodePrefix(token: string): string {
  return `latch-${token}-`;
}

/** A child of an election's parent, read from its name. */
export interface CandidateNode {
  readonly name: string;
  readonly token: string;
  readonly sequence: number;
}

const NODE_NAME = /^latch-([^-]+)-(\d{10})$/;

/** The candidates among an election's children, in line: the leader first. */
export function lineOf(children: readonly string[]): CandidateNode[] {
  const line: CandidateNode[] = [];
  for (const name of children) {
    const match = NODE_NAME.exec(name);
    if (match) line.push({ name, token: match[1]!, sequence: Number(match[2]) });
  }
  return line.sort((a, b) => a.sequence - b.sequence);
}
