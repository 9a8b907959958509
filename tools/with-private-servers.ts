// `node dist/tools/with-private-servers.js <command...>`: runs the command with REDIS_URL set,
// and with ZOOKEEPER=1 also ZOOKEEPER_CONNECT. A variable already set is used as is; otherwise a
// private server is started on a free port for the command's lifetime and stopped after it (also
// on Ctrl-C).
import { spawn } from 'node:child_process';
import { RedisServer, ZooKeeperServer } from '../lib/testing/index.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-private-servers <command> [args...]');
  process.exit(2);
}

const redis = process.env.REDIS_URL ? undefined : await RedisServer.start();
if (redis) console.log(`Started a private redis-server at ${redis.url} (stopped on exit)`);
const wantsZooKeeper = process.env.ZOOKEEPER === '1' && !process.env.ZOOKEEPER_CONNECT;
const zookeeper = wantsZooKeeper ? await ZooKeeperServer.start() : undefined;
if (zookeeper) {
  console.log(`Started a private ZooKeeper at ${zookeeper.connectString} (stopped on exit)`);
}
const child = spawn(command, args, {
  stdio: 'inherit',
  env: {
    ...process.env,
    REDIS_URL: process.env.REDIS_URL ?? redis!.url,
    ...(zookeeper && { ZOOKEEPER_CONNECT: zookeeper.connectString }),
  },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal));
}
const code = await new Promise<number>((resolve) =>
  child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 + 1 : 1))),
);
await Promise.all([redis?.dispose(), zookeeper?.dispose()]);
process.exit(code);
