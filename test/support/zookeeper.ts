import { describe } from '@jest/globals';
import {
  ZooKeeperEnsemble,
  ZooKeeperServer,
  zooKeeperMissing,
  type ZooKeeperServerOptions,
} from '../../lib/testing/index.js';

export { ZooKeeperEnsemble, ZooKeeperServer };

/** A ZooKeeper for a test file: a private standalone server started for the file. */
export interface TestZooKeeper {
  readonly connectString: string;
  readonly server: ZooKeeperServer;
  dispose(): Promise<void>;
}

export async function startTestZooKeeper(
  options: ZooKeeperServerOptions = {},
): Promise<TestZooKeeper> {
  const server = await ZooKeeperServer.start(options);
  return { connectString: server.connectString, server, dispose: () => server.dispose() };
}

/** True on CI (the `CI` variable most CI services set): missing ZooKeeper is an error there. */
function onCi(): boolean {
  const ci = process.env.CI;
  return !!ci && ci !== 'false' && ci !== '0';
}

/**
 * `describe` for a suite that needs ZooKeeper servers. Where Java or the ZooKeeper jars are
 * missing it skips the suite, naming why in its title, except on CI: there the suite runs and
 * fails at its first start, as `npm test` installs ZooKeeper or stops before the tests.
 */
export function describeWithZooKeeper(name: string, fn: () => void): void {
  const missing = onCi() ? undefined : zooKeeperMissing();
  if (missing) describe.skip(`${name} (skipped: ${missing}; CI=1 makes it fail)`, fn);
  else describe(name, fn);
}
