import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { InvalidOptionsError } from '../../lib/index.js';
import { resolveOptions } from '../../lib/redis-coordination.options.js';

function problemsOf(options: unknown): readonly string[] {
  try {
    resolveOptions(options);
  } catch (error) {
    assert.ok(
      error instanceof InvalidOptionsError,
      `expected InvalidOptionsError, got ${String(error)}`,
    );
    return error.problems;
  }
  assert.fail('options were accepted');
}

describe('resolveOptions', () => {
  it('fills in defaults and connects to localhost when given nothing', () => {
    const resolved = resolveOptions({});
    assert.equal(resolved.keyPrefix, 'coord:');
    assert.equal(resolved.connectTimeoutMs, 5000);
    assert.equal(resolved.autoPipelining, 'adaptive');
    assert.equal(resolved.target, 'redis://localhost:6379');
  });

  it('parses a redis:// URL with ACL user, password and database', () => {
    const resolved = resolveOptions({ url: 'redis://app%40x:p%40ss@10.1.2.3:6380/2' });
    assert.deepEqual(resolved.connection, {
      kind: 'standalone',
      options: {
        host: '10.1.2.3',
        port: 6380,
        username: 'app@x',
        password: 'p@ss',
        db: 2,
        tls: undefined,
      },
    });
    assert.equal(resolved.target, 'redis://app@x:***@10.1.2.3:6380/2');
    assert.ok(resolved.secrets.includes('p@ss'));
  });

  it('turns rediss:// into TLS with the host as server name', () => {
    const resolved = resolveOptions({ url: 'rediss://cache.example:6390' });
    assert.equal(resolved.connection.kind, 'standalone');
    assert.deepEqual(resolved.connection.kind === 'standalone' && resolved.connection.options.tls, {
      servername: 'cache.example',
    });
    assert.equal(resolved.target, 'rediss://cache.example:6390');
  });

  it('lets redis options override the URL', () => {
    const resolved = resolveOptions({ url: 'redis://a:1', redis: { port: 7000, password: 'pw' } });
    assert.equal(resolved.target, 'redis://:***@a:7000');
  });

  it('describes Sentinel and Cluster targets without secrets', () => {
    assert.equal(
      resolveOptions({
        sentinel: {
          sentinels: [{ host: 's1', port: 26379 }],
          name: 'main',
          sentinelPassword: 'sp',
        },
      }).target,
      'sentinel master "main" via s1:26379',
    );
    assert.equal(
      resolveOptions({
        cluster: {
          nodes: [{ host: 'n1', port: 7000 }],
          options: { redisOptions: { password: 'x' } },
        },
      }).target,
      'cluster n1:7000',
    );
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 'redis://x', /options must be an object/],
    [
      'an unknown option (typo)',
      { urll: 'redis://x' },
      /"urll": unknown option \(did you mean "url"\? known: url, redis/,
    ],
    [
      'live configuration keys that are not an array',
      { liveConfig: { keys: 'flags' } },
      /liveConfig.keys must be an array of key names, got "flags"/,
    ],
    [
      'an unknown live configuration option',
      { liveConfig: { key: ['flags'] } },
      /liveConfig.key .*unknown option \(did you mean "keys"\?/,
    ],
    [
      'a live configuration validate that is not a function',
      { liveConfig: { validate: true } },
      /liveConfig.validate must be a function/,
    ],
    [
      'an unknown sentinel option (typo)',
      { sentinel: { sentinels: [{ port: 1 }], name: 'm', sentinelPasword: 'x' } },
      /"sentinel.sentinelPasword": unknown option \(did you mean "sentinelPassword"\?/,
    ],
    [
      'two connection sources',
      { url: 'redis://x', cluster: { nodes: [{ port: 1 }] } },
      /choose one of url, sentinel, cluster and client; got url and cluster/,
    ],
    ['a URL that is not a URL', { url: 'not a url' }, /url is not a valid URL/],
    [
      'a URL with another scheme',
      { url: 'http://x:6379' },
      /must start with redis:\/\/ or rediss:\/\//,
    ],
    [
      'a URL with a non-numeric database',
      { url: 'redis://x/abc' },
      /database "\/abc" must be a number/,
    ],
    ['a keyPrefix with a hash tag', { keyPrefix: 'app{1}:' }, /must not contain \{ or \}/],
    ['a keyPrefix that is not a string', { keyPrefix: 5 }, /keyPrefix must be a string/],
    ['an empty keyPrefix', { keyPrefix: '' }, /keyPrefix must not be empty/],
    [
      'a negative connect timeout',
      { connectTimeoutMs: -1 },
      /connectTimeoutMs must be a positive integer/,
    ],
    [
      'a fractional connect timeout',
      { connectTimeoutMs: 1.5 },
      /connectTimeoutMs must be a positive integer/,
    ],
    ['an ioredis keyPrefix', { redis: { keyPrefix: 'x:' } }, /redis.keyPrefix is not supported/],
    [
      'Sentinel without sentinels',
      { sentinel: { sentinels: [], name: 'm' } },
      /sentinel.sentinels must list at least one/,
    ],
    [
      'Sentinel without a name',
      { sentinel: { sentinels: [{ host: 'a', port: 1 }] } },
      /sentinel.name must name the master group/,
    ],
    [
      'Cluster without nodes',
      { cluster: { nodes: [] } },
      /cluster.nodes must list at least one node/,
    ],
    [
      'a client that is not ioredis',
      { client: { get() {} } },
      /client must be an ioredis Redis or Cluster instance/,
    ],
    [
      'a codec without decode',
      { codec: { encode: String } },
      /codec must have encode\(value\) and decode\(text\)/,
    ],
    [
      'a bad autoPipelining',
      { autoPipelining: 'sometimes' },
      /autoPipelining must be true, false or 'adaptive'/,
    ],
    ['a zero payload limit', { maxPayloadBytes: 0 }, /maxPayloadBytes must be a positive integer/],
    ['a bad shardedPubSub', { shardedPubSub: 'yes' }, /shardedPubSub must be true or false/],
    [
      'elections on ZooKeeper without the option zookeeper',
      { elections: { backend: 'zookeeper' } },
      /elections.backend 'zookeeper' needs the module option zookeeper/,
    ],
    [
      'an unknown election backend',
      { elections: { backend: 'etcd' } },
      /elections.backend must be 'redis' or 'zookeeper', got "etcd"/,
    ],
    [
      'an unknown elections option (typo)',
      { elections: { bakend: 'redis' } },
      /"elections.bakend": unknown option \(did you mean "backend"\?/,
    ],
    [
      'an unknown near-cache option (typo)',
      { cache: { local: { ttl: 5000 } } },
      /cache.local.ttl 5000: unknown option \(did you mean "ttlMs"\?/,
    ],
    [
      'a near cache bounded by no entries',
      { cache: { local: { maxEntries: 0 } } },
      /cache.local: Invalid maxEntries 0/,
    ],
    [
      'a near-cache default with a fractional ttl',
      { cache: { local: { ttlMs: 1.5 } } },
      /cache.local: Invalid ttlMs 1.5/,
    ],
    [
      'a near-cache default with a shared that is not a boolean',
      { cache: { local: { ttlMs: 5000, shared: 'no' } } },
      /cache.local.shared must be a boolean, got "no"/,
    ],
    [
      'replicaAcks with no replicas',
      { replicaAcks: { replicas: 0, timeoutMs: 100 } },
      /replicaAcks: Invalid replicaAcks.replicas 0: expected a positive integer/,
    ],
    [
      'replicaAcks without a timeout',
      { replicaAcks: { replicas: 1 } },
      /replicaAcks: Invalid replicaAcks.timeoutMs undefined/,
    ],
    [
      'replicaAcks that would outwait the command timeout',
      { replicaAcks: { replicas: 1, timeoutMs: 5000 } },
      /replicaAcks.timeoutMs 5000: must be below the command timeout \(5000 ms\)/,
    ],
    [
      'replicaAcks that would outwait a cluster command timeout',
      {
        cluster: { nodes: [{ port: 1 }], options: { redisOptions: { commandTimeout: 500 } } },
        replicaAcks: { replicas: 1, timeoutMs: 800 },
      },
      /must be below the command timeout \(500 ms\)/,
    ],
    [
      'an unknown replicaAcks option (typo)',
      { replicaAcks: { replica: 1, timeoutMs: 10 } },
      /replicaAcks.replica .*did you mean "replicas"\?/,
    ],
  ];
  for (const [name, options, expected] of bad) {
    it(`refuses ${name}`, () => {
      const problems = problemsOf(options);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `got: ${problems.join(' | ')}`,
      );
    });
  }

  it('takes replicaAcks below the command timeout it is given, frozen; off by default', () => {
    assert.equal(resolveOptions({}).replicaAcks, undefined);
    const resolved = resolveOptions({
      redis: { commandTimeout: 10_000 },
      replicaAcks: { replicas: 2, timeoutMs: 6000 },
    });
    assert.deepEqual(resolved.replicaAcks, { replicas: 2, timeoutMs: 6000 });
    assert.ok(Object.isFrozen(resolved.replicaAcks));
    // A client of your own keeps its settings: without a commandTimeout nothing bounds the wait.
    const client = new Redis({ lazyConnect: true });
    const given = resolveOptions({ client, replicaAcks: { replicas: 1, timeoutMs: 60_000 } });
    assert.equal(given.replicaAcks?.timeoutMs, 60_000);
    client.disconnect();
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      keyPrefix: '{x}',
      connectTimeoutMs: 0,
      urll: 1,
      maxPayloadBytes: -5,
    });
    assert.equal(problems.length, 4, problems.join(' | '));
    const error = new InvalidOptionsError(problems);
    for (const problem of problems) assert.ok(error.message.includes(problem));
  });

  it('refuses a client with an ioredis keyPrefix', () => {
    const client = new Redis({ lazyConnect: true, keyPrefix: 'x:' });
    assert.ok(problemsOf({ client }).some((p) => /ioredis keyPrefix/.test(p)));
    client.disconnect();
  });
});
