require('/work/main/node_modules/reflect-metadata');
const { NestFactory } = require('/work/main/node_modules/@nestjs/core');
const { Module } = require('/work/main/node_modules/@nestjs/common');
(async () => {
  const lib = require('/work/main/dist/cjs/index.js');
  const { RedisClusterServers } = require('/work/main/dist/cjs/testing/index.js');
  const cluster = await RedisClusterServers.start(3, { replicas: 1 });
  class M {}
  Module({ imports: [lib.RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses }, keyPrefix: 'x:' })] })(M);
  const app = await NestFactory.createApplicationContext(M, { logger: ['error','warn'] });
  for (let i = 0; i < 6; i++) await app.get(lib.PubSubService).subscribe(`news-${i}`, () => {});
  if (process.argv[2] === 'failover') {
    const { Redis } = require('/work/main/node_modules/ioredis');
    for (const n of cluster.nodes) { const r = new Redis(n.url); if ((await r.info('replication')).includes('role:slave')) { await r.call('CLUSTER','FAILOVER'); r.disconnect(); break; } r.disconnect(); }
    await new Promise(r => setTimeout(r, 2000));
  }
  const t0 = process.cpuUsage();
  await app.close();
  console.log('closed');
  await new Promise(r => setTimeout(r, 3000));
  const u = process.cpuUsage(t0); console.log('cpu ms in 3 s after close', (u.user + u.system) / 1000);
  await cluster.dispose();
  console.log('disposed');
  const t1 = process.cpuUsage(); await new Promise(r => setTimeout(r, 3000)); const u1 = process.cpuUsage(t1); console.log('cpu ms after dispose', (u1.user+u1.system)/1000);
  console.log(process._getActiveHandles().map(h => h.constructor.name));
})();
