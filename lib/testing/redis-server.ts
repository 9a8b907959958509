import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pingRedis, ServerProcess } from './server-process.js';

/** The redis-server binary: `REDIS_SERVER_BIN`, else whatever is on `PATH`. */
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN || 'redis-server';

/** True when a redis-server binary can be started here. */
export function redisServerAvailable(): boolean {
  return spawnSync(REDIS_SERVER_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

const MISSING_BINARY = `Cannot start ${REDIS_SERVER_BIN}: no such program. Install Redis 7 or later ("apt-get install redis-server", "brew install redis") or point REDIS_SERVER_BIN at a redis-server binary.`;

export interface RedisServerOptions {
  /** Turn on AOF persistence (`appendonly yes`, fsync every second) so data survives restarts. */
  appendOnly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[];
  /** Pin the server to these CPUs with `taskset` (benchmarks). */
  cpus?: string;
  /** Run as a Sentinel (`--sentinel`) monitoring this master, with quorum 1. */
  sentinelOf?: { name: string; host: string; port: number };
  /**
   * Run as a replica of this master (`--replicaof`): `start()` resolves once the replica has
   * synced with it (`master_link_status:up`), so it holds every write made before.
   */
  replicaOf?: { host: string; port: number };
}

const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * A private `redis-server` on a free loopback port, for tests: a real Redis, started in tens
 * of milliseconds, with nothing saved to disk unless asked. It can be stopped, restarted on the
 * same port with the same data directory, SIGKILLed, and paused with SIGSTOP, so fault tests act
 * on a real process. Dispose of it when done, in `afterAll` or with `await using`. A server left
 * running keeps the process alive, as an open handle jest's `--detectOpenHandles` names; it is
 * killed when the process that started it ends.
 *
 * @example
 * ```ts
 * let redis: RedisServer;
 * beforeAll(async () => (redis = await RedisServer.start()));
 * afterAll(() => redis.dispose());
 *
 * const moduleRef = await Test.createTestingModule({
 *   imports: [RedisCoordinationModule.forRoot({ url: redis.url })],
 * }).compile();
 * ```
 */
export class RedisServer implements AsyncDisposable {
  private process?: ServerProcess;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'coord-redis-'));
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort(), dir, options);
      try {
        await server.launch();
      } catch (error) {
        // Another process may take the port between our probe and redis's bind: try another.
        if (attempt >= 5 || !redisServerAvailable()) {
          rmSync(dir, { recursive: true, force: true });
          throw error;
        }
        continue;
      }
      if (options.replicaOf) await server.waitForMasterLink();
      return server;
    }
  }

  readonly host = '127.0.0.1';

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Sends a command with redis-cli and returns its output (handy for CONFIG, ACL, DEBUG). */
  cli(...args: string[]): string {
    const result = spawnSync('redis-cli', ['-h', this.host, '-p', String(this.port), ...args], {
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** Stops the server (SIGTERM: with AOF on, the file is flushed) and waits for it to exit. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
  }

  /** Kills the server at once (SIGKILL): what is not yet fsynced is lost. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** Starts the server again on the same port with the same data directory. */
  async restart(): Promise<void> {
    if (this.process) await this.stop();
    await this.launch();
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers. */
  pause(): void {
    this.process?.pause();
  }

  resume(): void {
    this.process?.signal('SIGCONT');
  }

  /** Stops the server and removes its data directory. Safe to call twice. */
  async dispose(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private async launch(): Promise<void> {
    const { appendOnly = false, args = [], cpus, sentinelOf, replicaOf } = this.options;
    const common = [
      '--port',
      String(this.port),
      '--bind',
      this.host,
      '--dir',
      this.dir,
      '--protected-mode',
      'no',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ];
    const serverArgs = sentinelOf
      ? [this.sentinelConfig(sentinelOf), '--sentinel', ...common]
      : [
          ...common,
          '--save',
          '',
          '--appendonly',
          appendOnly ? 'yes' : 'no',
          '--appendfsync',
          'everysec',
          ...(replicaOf ? ['--replicaof', replicaOf.host, String(replicaOf.port)] : []),
          ...args,
        ];
    const [command, commandArgs] = cpus
      ? ['taskset', ['-c', cpus, REDIS_SERVER_BIN, ...serverArgs]]
      : [REDIS_SERVER_BIN, serverArgs];
    const server = ServerProcess.spawn(command, commandArgs, ['ignore', 'ignore', 'pipe']);
    let stderr = '';
    server.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.process = server;
    // Poll until PONG: a server loading its AOF answers LOADING, not PONG.
    if (
      !(await server.waitUntil(
        () => pingRedis({ host: this.host, port: this.port }),
        LAUNCH_TIMEOUT_MS,
      ))
    ) {
      server.signal('SIGKILL');
      this.process = undefined;
      const { spawnError } = server;
      const reason = spawnError?.code === 'ENOENT' ? MISSING_BINARY : spawnError?.message;
      throw new Error(
        `redis-server did not start on port ${this.port}: ${reason ?? (stderr.trim() || 'no answer')}`,
      );
    }
  }

  /** Waits until this replica has synced with its master (a full sync on first contact). */
  private async waitForMasterLink(): Promise<void> {
    const linked = async () =>
      /^master_link_status:up\r?$/m.test(await infoOnce(this.host, this.port, 'replication'));
    if (!(await this.process!.waitUntil(linked, LAUNCH_TIMEOUT_MS))) {
      await this.dispose();
      const { host, port } = this.options.replicaOf!;
      throw new Error(
        `redis-server on port ${this.port} did not sync with its master ${host}:${port} within ${LAUNCH_TIMEOUT_MS} ms`,
      );
    }
  }

  /** A sentinel rewrites its config file, so it gets one of its own in its data directory. */
  private sentinelConfig(master: { name: string; host: string; port: number }): string {
    const config = join(this.dir, `sentinel-${this.port}.conf`);
    writeFileSync(config, `sentinel monitor ${master.name} ${master.host} ${master.port} 1\n`);
    return config;
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const server = this.process;
    this.process = undefined;
    await server?.stop(signal);
  }
}

/**
 * A real local Redis Cluster: `masters` servers with cluster mode on, joined by
 * `redis-cli --cluster create`, each with `replicas` replicas (none by default). `start()`
 * resolves once the cluster is ok and every replica has synced with its master.
 */
export class RedisClusterServers implements AsyncDisposable {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3, { replicas = 0 } = {}): Promise<RedisClusterServers> {
    const nodes = await Promise.all(
      Array.from({ length: masters * (1 + replicas) }, () =>
        RedisServer.start({
          // Replicas sync at once (diskless sync otherwise waits 5 s for more replicas): a
          // replica that never synced cannot be promoted when its master dies.
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-node-timeout',
            '2000',
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      ),
    );
    const cluster = new RedisClusterServers(nodes);
    try {
      const result = spawnSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((n) => `${n.host}:${n.port}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { encoding: 'utf8' },
      );
      if (result.status !== 0) {
        const detail = result.error
          ? `redis-cli: ${result.error.message}`
          : `${result.stdout}${result.stderr}`;
        throw new Error(
          `redis-cli --cluster create failed (it needs redis-cli on PATH): ${detail}`,
        );
      }
      await cluster.waitUntilHealthy();
      return cluster;
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
  }

  get addresses(): Array<{ host: string; port: number }> {
    return this.nodes.map((node) => ({ host: node.host, port: node.port }));
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.dispose()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** Until every node says `cluster_state:ok` and every replica has synced with its master. */
  private async waitUntilHealthy(): Promise<void> {
    const synced = async (node: RedisServer) => {
      const info = await infoOnce(node.host, node.port, 'replication');
      return /^role:master\r?$/m.test(info) || /^master_link_status:up\r?$/m.test(info);
    };
    for (let attempt = 0; attempt < 400; attempt++) {
      if (
        this.nodes.every((node) => node.cli('cluster', 'info').includes('cluster_state:ok')) &&
        (await Promise.all(this.nodes.map(synced))).every(Boolean)
      ) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('cluster did not reach cluster_state:ok with every replica in sync');
  }
}

/** `INFO <section>` on a connection of its own: the reply's text, or '' on any failure. */
function infoOnce(host: string, port: number, section: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = Buffer.alloc(0);
    const done = (text: string) => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(1000, () => done(''));
    socket.once('error', () => done(''));
    socket.once('connect', () => socket.write(`INFO ${section}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      // A bulk string: `$<length>\r\n<text>\r\n`; anything else (an error, LOADING) is no answer.
      const header = /^\$(\d+)\r\n/.exec(reply.toString('latin1', 0, 32));
      if (!header) {
        if (reply.includes('\r\n')) done('');
        return;
      }
      const start = header[0].length;
      const length = Number(header[1]);
      if (reply.length >= start + length) done(reply.toString('utf8', start, start + length));
    });
  });
}
