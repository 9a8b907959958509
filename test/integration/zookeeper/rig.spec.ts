import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { nodeArgsWithTesting, runWithTesting } from '../../support/built-testing.js';
import { useTestZooKeeper, useZooKeeperEnsemble } from '../../support/hooks.js';
import { describeWithZooKeeper, ZooKeeperServer } from '../../support/zookeeper.js';
import { processState } from '../../../lib/testing/server-process.js';

// The rig speaks to the servers with four-letter words only, so it is checked without a client.

const NOT_SERVING = 'This ZooKeeper instance is not currently serving requests';

/** Polls `condition`; the 60 s bound only turns a hang into a failure that ends the loop. */
async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`still not ${what} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** True once the process has exited: no such process, or a zombie its new parent has not reaped. */
function gone(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === 'Z';
}

describeWithZooKeeper('ZooKeeper test rig', () => {
  describe('a standalone server', () => {
    const zookeeper = useTestZooKeeper();

    it('serves on its own loopback port', async () => {
      const { server } = zookeeper;
      expect(zookeeper.connectString).toBe(`127.0.0.1:${server.port}`);
      expect(await server.fourLetterWord('ruok')).toBe('imok');
      expect(await server.mode()).toBe('standalone');
    });

    it('restarts on the same port', async () => {
      const { server } = zookeeper;
      const [port, pid] = [server.port, server.pid!];
      await server.restart();
      expect(gone(pid)).toBe(true);
      expect(server.pid).not.toBe(pid);
      expect(server.port).toBe(port);
      expect(await server.fourLetterWord('ruok')).toBe('imok');
      expect(await server.mode()).toBe('standalone');
    });

    it('answers nothing while paused and again once resumed', async () => {
      const { server } = zookeeper;
      server.pause();
      try {
        expect(await server.fourLetterWord('ruok')).toBeUndefined();
      } finally {
        server.resume();
      }
      expect(await server.fourLetterWord('ruok')).toBe('imok');
    });
  });

  it('kills the server and removes its directory when disposed (await using)', async () => {
    let pid: number;
    let dir: string;
    {
      await using server = await ZooKeeperServer.start();
      [pid, dir] = [server.pid!, server.dir];
      expect(existsSync(join(dir, 'server.log'))).toBe(true);
    }
    expect(gone(pid)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it('is killed when the process that started it dies, even by SIGKILL', async () => {
    const owner = spawn(
      process.execPath,
      nodeArgsWithTesting(
        `const server = await testing.ZooKeeperServer.start();
         console.log(JSON.stringify({ pid: server.pid, dir: server.dir }));
         setInterval(() => {}, 60_000);`,
      ),
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [started] = (await once(owner.stdout, 'data')) as [Buffer];
    const { pid, dir } = JSON.parse(started.toString()) as { pid: number; dir: string };
    expect(gone(pid)).toBe(false);
    owner.kill('SIGKILL');
    await until('gone', () => gone(pid));
    // Only the process goes: the directory stays, as it would after a machine crash.
    rmSync(dir, { recursive: true, force: true });
  });

  describe('an ensemble of three', () => {
    const ensemble = useZooKeeperEnsemble(3);

    it('elects one leader that the two others follow', async () => {
      expect(ensemble.connectString).toBe(
        ensemble.servers.map((server) => `127.0.0.1:${server.port}`).join(','),
      );
      const leader = await ensemble.waitForQuorum();
      const modes = await Promise.all(ensemble.servers.map((server) => server.mode()));
      expect(modes.sort()).toEqual(['follower', 'follower', 'leader']);
      expect(await leader.mode()).toBe('leader');
    });

    it('elects another leader when the leader is killed, and takes the old one back', async () => {
      const leader = await ensemble.waitForQuorum();
      await leader.kill();
      const next = await ensemble.waitForQuorum();
      expect(next).not.toBe(leader);
      await leader.restart();
      expect(await ensemble.waitForQuorum()).toBe(next);
      expect(await leader.mode()).toBe('follower');
    });

    it('stops serving with two of three down and serves again when one is back', async () => {
      const [first, second, survivor] = ensemble.servers as [
        ZooKeeperServer,
        ZooKeeperServer,
        ZooKeeperServer,
      ];
      await ensemble.waitForQuorum();
      await first.stop();
      await second.kill();
      await until('serving no more', async () => (await survivor.mode()) === undefined);
      expect(await survivor.fourLetterWord('stat')).toContain(NOT_SERVING);
      expect(await survivor.fourLetterWord('ruok')).toBe('imok');
      await expect(ensemble.waitForQuorum()).rejects.toThrow(
        'Only 1 of 3 ZooKeeper servers run unpaused: a quorum needs 2',
      );

      await second.restart();
      await ensemble.waitForQuorum();
      expect(await survivor.fourLetterWord('stat')).toMatch(/^Mode: (leader|follower)$/m);
      await first.restart();
      await ensemble.waitForQuorum();
    });

    it('counts a paused member out of the quorum until it is resumed', async () => {
      const leader = await ensemble.waitForQuorum();
      leader.pause();
      try {
        // The followers notice the silent leader after syncLimit ticks and elect one of them.
        const next = await ensemble.waitForQuorum();
        expect(next).not.toBe(leader);
      } finally {
        leader.resume();
      }
      expect(await ensemble.waitForQuorum()).not.toBe(leader);
    });
  });
});

describe('ZooKeeper test rig without ZooKeeper', () => {
  it('says at once what is missing and how to install it, and leaves no directory behind', () => {
    const run = runWithTesting(
      `await testing.ZooKeeperServer.start().then(() => console.log('started'), (e) => console.log(e.message));`,
      { ZOOKEEPER_HOME: '/no/such/zookeeper' },
    );
    assert.deepEqual(run.leftInTmpdir, []);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Cannot start ZooKeeper: no (zookeeper-<version>.jar|Java runtime)/);
    assert.match(run.stdout, /apt-get install zookeeper.*ZOOKEEPER_HOME.*ZOOKEEPER_CLASSPATH/s);
  });
});
