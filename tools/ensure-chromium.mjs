// Makes sure Debian's chromium is there for `npm test`: the dashboard page test
// (test/integration/dashboard/dashboard-page.spec.ts) drives it with playwright-core, whose own
// browser download cannot be fetched everywhere. Where the package cannot be installed (not root,
// no apt-get, or apt-get fails) this says why and exits 0: that test skips itself, saying so.
import { existsSync } from 'node:fs';
import { aptInstall, canAptInstall } from './apt-install.mjs';

const CHROMIUM = '/usr/bin/chromium';
if (existsSync(CHROMIUM)) process.exit(0);

if (!canAptInstall()) {
  console.log(`No ${CHROMIUM}: the dashboard page test will be skipped.`);
  process.exit(0);
}
console.log(`No ${CHROMIUM}: installing it with apt-get (chromium package)...`);
const failure = aptInstall('chromium');
if (failure || !existsSync(CHROMIUM)) {
  // Not fatal: one page test needs the browser, and it skips itself (saying so) without it.
  console.warn(
    `${failure ?? `chromium installed, but ${CHROMIUM} is missing.`}\nThe dashboard page test will be skipped; to run it: "sudo apt-get install -y chromium".`,
  );
}
