// Makes sure the `ip` command (iproute2) is there for `npm test`: the network partition test
// (test/faults/connection/sentinel-partition.spec.ts) builds its hosts in network namespaces
// with it. That test needs root too, so where the package cannot be installed (not root, no
// apt-get) nothing is done and the test skips itself, saying why.
import { spawnSync } from 'node:child_process';
import { aptInstall, canAptInstall } from './apt-install.mjs';

const works = () => spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
if (works()) process.exit(0);

if (!canAptInstall()) {
  console.log('No "ip" command (iproute2): the network partition test will be skipped.');
  process.exit(0);
}
console.log('No "ip" command: installing it with apt-get (iproute2 package)...');
const failure = aptInstall('iproute2');
if (failure || !works()) {
  console.error(
    `${failure ?? 'iproute2 installed, but "ip -V" still fails.'}\nThe network partition test needs the "ip" command: "sudo apt-get install -y iproute2".`,
  );
  process.exit(1);
}
