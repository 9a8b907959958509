import { RedisConnections } from '../../lib/connection/redis-connections.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, runLoad } from '../support/measure.js';

const TOTAL = 20_000;

/**
 * Raw PING/SET against the same commands through the module's command connection, one at a
 * time and 64 in flight. The raw side is the better of ioredis with and without auto-pipelining
 * for each pattern, so the module's 'adaptive' default must match whichever is best.
 */
export const suite: BenchSuite = {
  description: 'PING and SET: raw ioredis vs the module command connection (adaptive pipelining)',
  async run(context) {
    const app = await context.app();
    const command = app.get(RedisConnections).command;
    const plain = await context.rawClient();
    const pipelined = await context.rawClient({ enableAutoPipelining: true });
    const value = 'x'.repeat(64);
    const workloads = {
      PING: (client: typeof plain) => () => client.ping(),
      SET: (client: typeof plain) => (i: number) => client.set(`bench:conn:${i % 1000}`, value),
    };
    for (const [name, make] of Object.entries(workloads)) {
      for (const concurrency of [1, 64]) {
        const raws = [plain, pipelined].map((client) => make(client));
        const ours = make(command as typeof plain);
        let best = { ratio: Infinity } as Awaited<ReturnType<typeof compare>>;
        let bestRaw = '';
        for (const [i, raw] of raws.entries()) {
          const result = await compare(
            () => runLoad(raw, { total: TOTAL, concurrency }),
            () => runLoad(ours, { total: TOTAL, concurrency }),
          );
          // The harder baseline is the one with the lower ratio.
          if (result.ratio < best.ratio) {
            best = result;
            bestRaw = i === 0 ? 'raw ioredis' : 'raw ioredis + autoPipelining';
          }
        }
        context.report({
          suite: 'connection',
          name: `${name} x${TOTAL}, ${concurrency} in flight`,
          ...best,
          goal: 0.95,
          note: `vs the faster baseline: ${bestRaw}`,
        });
      }
    }
  },
};
