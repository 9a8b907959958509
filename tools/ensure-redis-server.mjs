// Makes sure a redis-server binary is available for `npm test`, `npm run sample` and
// `npm run bench`. With REDIS_URL set nothing is needed. Otherwise it looks for
// REDIS_SERVER_BIN or redis-server on PATH, installs it from the OS packages where it can
// (Debian/Ubuntu as root), and otherwise stops with the exact steps to take.
import { spawnSync } from 'node:child_process';

const needsServer = process.argv.includes('--always') || !process.env.REDIS_URL;
if (!needsServer) process.exit(0);

const binary = process.env.REDIS_SERVER_BIN || 'redis-server';
const works = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
if (works(binary)) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!process.env.REDIS_SERVER_BIN && isRoot && hasCommand('apt-get')) {
  console.log('redis-server not found: installing it with apt-get (redis-server package)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps = [
    ['apt-get', ['update', '-qq']],
    ['apt-get', ['install', '-y', '-qq', 'redis-server']],
  ];
  for (const [cmd, args] of steps) {
    const result = spawnSync(cmd, args, { stdio: 'inherit', env });
    if (result.status !== 0) fail(`"${cmd} ${args.join(' ')}" failed (exit ${result.status}).`);
  }
  if (works('redis-server')) process.exit(0);
}
fail(
  `redis-server was not found${process.env.REDIS_SERVER_BIN ? ` at REDIS_SERVER_BIN=${binary}` : ' on PATH'}.`,
);

function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function fail(reason) {
  console.error(`${reason}
Tests, the sample and the benchmarks start private redis-server processes. Either:
  - install Redis 7+: "sudo apt-get install -y redis-server" (Debian/Ubuntu),
    "brew install redis" (macOS), or see https://redis.io/docs/latest/operate/oss_and_stack/install/;
  - or point REDIS_SERVER_BIN at a redis-server binary;
  - or set REDIS_URL=redis://host:port to use a running server (tests that must restart or pause Redis, or need a cluster, are then skipped).`);
  process.exit(1);
}
