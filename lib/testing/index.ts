// `nestjs-redis-coordination/testing`: a real Redis for your own tests, as easy to use as a mock,
// and private ZooKeeper servers and ensembles for the ZooKeeper backend's. Kept out of the main
// entry point: it starts processes, which an app never needs.
import { randomBytes } from 'node:crypto';

export {
  RedisServer,
  RedisClusterServers,
  redisServerAvailable,
  REDIS_SERVER_BIN,
  type RedisServerOptions,
} from './redis-server.js';
export { freePort, freePorts } from './server-process.js';
export {
  ZooKeeperServer,
  ZooKeeperEnsemble,
  zooKeeperAvailable,
  zooKeeperMissing,
  type ZooKeeperMode,
  type ZooKeeperServerOptions,
} from './zookeeper-server.js';

/**
 * A key prefix no other test uses (`t<8 hex>:`), for `RedisCoordinationModule.forRoot({ keyPrefix })`:
 * tests that share one server then never see each other's keys, with no FLUSHALL between them.
 */
export function uniqueKeyPrefix(): string {
  return `t${randomBytes(4).toString('hex')}:`;
}
