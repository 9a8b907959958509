import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe } from '@jest/globals';
import { REDIS_SERVER_BIN } from '../../lib/testing/index.js';
import { pingRedis, ServerProcess } from '../../lib/testing/server-process.js';

// Hosts on two sides of a network that a test can cut: each side is a network namespace of its
// own (`ip netns`, from iproute2), plugged by a veth pair into a bridge in a third namespace,
// the "switch". Cutting sets the switch's ports down, so each side only loses carrier: its own
// address stays up and reachable from its own side (setting a side's own interface down would
// drop its local routes too). Nothing is added to the test's own network namespace; the test
// reaches each server through a Unix socket, which no network namespace and no cut affects.

const run = promisify(execFile);

/** Why network namespaces cannot be made here, or undefined when they can. */
export function networkNamespacesMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const probe = `coord-probe-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error) return 'no "ip" command: install iproute2';
  if (add.status !== 0) return `"ip netns add" failed: ${add.stderr.trim()}`;
  const bridge = spawnSync('ip', ['-n', probe, 'link', 'add', 'probe-br', 'type', 'bridge'], {
    encoding: 'utf8',
  });
  spawnSync('ip', ['netns', 'delete', probe]);
  if (bridge.status !== 0) return `no bridge in a network namespace: ${bridge.stderr.trim()}`;
  return undefined;
}

/** `describe` for a suite that cuts a network: skipped, saying why, where it cannot be made. */
export function describeWithNetworkNamespaces(name: string, fn: () => void): void {
  const missing = networkNamespacesMissing();
  if (missing) describe.skip(`${name} (skipped: ${missing})`, fn);
  else describe(name, fn);
}

/** One side of a {@link SplitNetwork}: a namespace and its address there. */
export interface NetworkSide {
  readonly namespace: string;
  readonly address: string;
}

/** Two sides, `a` and `b`, joined by a switch that {@link cut} and {@link heal} act on. */
export class SplitNetwork {
  readonly a: NetworkSide;
  readonly b: NetworkSide;
  private readonly switchNamespace: string;
  private readonly created: string[] = [];

  private constructor(private readonly id: string) {
    // Short names: an interface name has at most 15 characters.
    this.a = { namespace: `${id}-a`, address: '10.0.0.1' };
    this.b = { namespace: `${id}-b`, address: '10.0.0.2' };
    this.switchNamespace = `${id}-sw`;
  }

  /** Makes the namespaces, with names no other run uses, and connects both sides. */
  static async create(): Promise<SplitNetwork> {
    const network = new SplitNetwork(`cn${randomBytes(3).toString('hex')}`);
    try {
      await network.build();
      return network;
    } catch (error) {
      await network.dispose();
      throw error;
    }
  }

  /** Partitions the sides: packets between them are dropped, neither side hears of it. */
  cut(): Promise<void> {
    return this.setSwitchPorts('down');
  }

  heal(): Promise<void> {
    return this.setSwitchPorts('up');
  }

  /** Deletes the namespaces (and their interfaces with them). Safe to call twice. */
  async dispose(): Promise<void> {
    for (const namespace of this.created.splice(0).reverse()) {
      await run('ip', ['netns', 'delete', namespace]).catch(() => undefined);
    }
  }

  private async build(): Promise<void> {
    const sw = this.switchNamespace;
    for (const namespace of [this.a.namespace, this.b.namespace, sw]) {
      await ip('netns', 'add', namespace);
      this.created.push(namespace);
    }
    const bridge = `${this.id}-br`;
    await ip('-n', sw, 'link', 'add', bridge, 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', bridge, 'up');
    const inside = `${this.id}-eth`;
    for (const side of ['a', 'b'] as const) {
      const { namespace, address } = this[side];
      const port = this.port(side);
      await ip(
        ...`link add ${inside} netns ${namespace} type veth peer ${port} netns ${sw}`.split(' '),
      );
      await ip('-n', sw, 'link', 'set', port, 'master', bridge);
      await ip('-n', sw, 'link', 'set', port, 'up');
      await ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', inside);
      await ip('-n', namespace, 'link', 'set', inside, 'up');
      await ip('-n', namespace, 'link', 'set', 'lo', 'up');
    }
  }

  private port(side: 'a' | 'b'): string {
    return `${this.id}-p${side}`;
  }

  private async setSwitchPorts(state: 'up' | 'down'): Promise<void> {
    for (const side of ['a', 'b'] as const) {
      await ip('-n', this.switchNamespace, 'link', 'set', this.port(side), state);
    }
  }
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`ip ${args.join(' ')}: ${error.stderr?.trim() || error.message}`);
  });
}

const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * A redis-server (or Sentinel) on one side of a {@link SplitNetwork}: it listens on that side's
 * address, for the other servers and the apps, and on a Unix socket for the test, which reaches
 * it whatever the network does.
 */
export class NamespacedRedis {
  private process?: ServerProcess;

  private constructor(
    readonly side: NetworkSide,
    readonly port: number,
    private readonly dir: string,
  ) {}

  /**
   * Starts a server in `side`'s namespace on `port` (each namespace has every port free).
   * `config`: lines of a config file of its own (a Sentinel rewrites its file); `args`: more
   * command-line arguments.
   */
  static async start(
    side: NetworkSide,
    port: number,
    {
      sentinel = false,
      config = [],
      args = [],
    }: { sentinel?: boolean; config?: string[]; args?: string[] } = {},
  ): Promise<NamespacedRedis> {
    const server = new NamespacedRedis(side, port, mkdtempSync(join(tmpdir(), 'coord-netns-')));
    const configFile = join(server.dir, 'redis.conf');
    writeFileSync(configFile, config.map((line) => `${line}\n`).join(''));
    const child = ServerProcess.spawn(
      'ip',
      [
        'netns',
        'exec',
        side.namespace,
        REDIS_SERVER_BIN,
        configFile,
        ...(sentinel ? ['--sentinel'] : ['--save', '', '--appendonly', 'no']),
        ...['--port', String(port), '--bind', side.address, '--unixsocket', server.socket],
        ...['--dir', server.dir, '--protected-mode', 'no', '--daemonize', 'no'],
        ...['--loglevel', 'warning', ...args],
      ],
      ['ignore', 'ignore', 'pipe'],
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    server.process = child;
    if (!(await child.waitUntil(() => pingRedis({ path: server.socket }), LAUNCH_TIMEOUT_MS))) {
      await server.dispose();
      throw new Error(
        `redis-server did not start in ${side.namespace} on port ${port}: ${stderr.trim() || 'no answer'}`,
      );
    }
    return server;
  }

  get host(): string {
    return this.side.address;
  }

  /** Its Unix socket: the test's way in, on neither side of the network. */
  get socket(): string {
    return join(this.dir, 'redis.sock');
  }

  /** Sends a command with redis-cli over the Unix socket and returns its output. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-s', this.socket, ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.trim();
  }

  /** Stops the server and removes its directory. Safe to call twice. */
  async dispose(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    await child?.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
