// Makes sure a redis-server binary is available for `npm test`, `npm run sample` and
// `npm run bench`. With REDIS_URL set nothing is needed. Otherwise it looks for
// REDIS_SERVER_BIN or redis-server on PATH, installs it from the OS packages where it can
// (Debian/Ubuntu as root), and otherwise stops with the exact steps to take.
import { spawnSync } from 'node:child_process';
import { aptInstall, canAptInstall } from './apt-install.mjs';

const needsServer = process.argv.includes('--always') || !process.env.REDIS_URL;
if (!needsServer) process.exit(0);

const binary = process.env.REDIS_SERVER_BIN || 'redis-server';
const works = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
if (works(binary)) process.exit(0);

if (!process.env.REDIS_SERVER_BIN && canAptInstall()) {
  console.log('redis-server not found: installing it with apt-get (redis-server package)...');
  const failure = aptInstall('redis-server');
  if (failure) fail(failure);
  if (works('redis-server')) process.exit(0);
}
fail(
  `redis-server was not found${process.env.REDIS_SERVER_BIN ? ` at REDIS_SERVER_BIN=${binary}` : ' on PATH'}.`,
);

function fail(reason) {
  console.error(`${reason}
Tests, the sample and the benchmarks start private redis-server processes. Either:
  - install Redis 7+: "sudo apt-get install -y redis-server" (Debian/Ubuntu),
    "brew install redis" (macOS), or see https://redis.io/docs/latest/operate/oss_and_stack/install/;
  - or point REDIS_SERVER_BIN at a redis-server binary;
  - or set REDIS_URL=redis://host:port to use a running server (tests that must restart or pause Redis, or need a cluster, are then skipped).`);
  process.exit(1);
}
