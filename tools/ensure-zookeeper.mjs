// Makes sure private ZooKeeper servers can be started for `npm test`: Java and the ZooKeeper
// jars, found exactly as the test rig finds them (it asks the built lib/testing, so run it after
// `npm run build`). When they are missing it installs Debian's `zookeeper` package (it brings
// Java) where it can (Debian/Ubuntu as root), and otherwise stops with the exact steps to take.
// With --if-requested it does nothing unless ZOOKEEPER=1: `npm run sample` passes it, although
// the sample does not use ZooKeeper yet (TODO(#16): run the sample on ZooKeeper with ZOOKEEPER=1).
import { aptInstall, canAptInstall } from './apt-install.mjs';

if (process.argv.includes('--if-requested') && process.env.ZOOKEEPER !== '1') process.exit(0);

const testing = new URL('../dist/lib/testing/index.js', import.meta.url);
const { zooKeeperMissing } = await import(testing.href).catch((error) => {
  console.error(
    `${error.message}\nRun "npm run build" first: this script asks the built test rig.`,
  );
  process.exit(1);
});

const missing = zooKeeperMissing();
if (!missing) process.exit(0);

// Jars chosen by hand are not replaced by the OS package's.
const chosenByHand = process.env.ZOOKEEPER_HOME || process.env.ZOOKEEPER_CLASSPATH;
if (!chosenByHand && canAptInstall()) {
  console.log(
    `ZooKeeper cannot run here (${missing}): installing it with apt-get (zookeeper package)...`,
  );
  const failure = aptInstall('zookeeper');
  if (failure) fail(failure);
  const stillMissing = zooKeeperMissing();
  if (!stillMissing) process.exit(0);
  fail(`ZooKeeper still cannot run after installing the zookeeper package: ${stillMissing}.`);
}
fail(`ZooKeeper cannot run here: ${missing}.`);

function fail(reason) {
  console.error(`${reason}
The tests start private ZooKeeper servers, which need a Java runtime and the ZooKeeper 3.8+ jars. Either:
  - on Debian/Ubuntu: "sudo apt-get update && sudo apt-get install -y zookeeper" (it brings Java);
  - elsewhere: install a Java runtime (JAVA_HOME or java on PATH), unpack apache-zookeeper-<version>-bin.tar.gz
    from https://zookeeper.apache.org/releases.html and set ZOOKEEPER_HOME to that folder;
  - or set ZOOKEEPER_CLASSPATH to a classpath that holds the ZooKeeper server and its dependencies.
Outside CI (no CI variable), "npm run test:only" and "npm run jest" skip the ZooKeeper suites instead.`);
  process.exit(1);
}
