import { performance } from 'node:perf_hooks';

/** One timed run of a workload. */
export interface RunResult {
  ops: number;
  opsPerSec: number;
  /** Latency percentiles of single operations, in milliseconds. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Runs `op` `total` times with `concurrency` loops in flight and times each call. `op(i)` gets
 * the operation's index, so workloads can vary keys.
 */
export async function runLoad(
  op: (i: number) => Promise<unknown>,
  { total, concurrency = 1 }: { total: number; concurrency?: number },
): Promise<RunResult> {
  const latencies = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t0 = performance.now();
        await op(i);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const elapsed = performance.now() - started;
  return { ops: total, opsPerSec: (total / elapsed) * 1000, ...percentiles(latencies) };
}

export function percentiles(samples: ArrayLike<number>): {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
} {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1] ?? 0 };
}

/**
 * Measures a baseline and a candidate in back-to-back pairs of runs, alternating which goes
 * first, and reports the median of the per-pair ratios: on a shared machine whose speed drifts
 * by ±20% over seconds, a pair sees nearly the same machine, so its ratio is far steadier than
 * either throughput. The runs shown are each side's median by throughput.
 */
export async function compare(
  baseline: () => Promise<RunResult>,
  candidate: () => Promise<RunResult>,
  rounds = 9,
): Promise<{ baseline: RunResult; candidate: RunResult; ratio: number }> {
  const base: RunResult[] = [];
  const cand: RunResult[] = [];
  const ratios: number[] = [];
  await baseline(); // warm-up: JIT, connections, script cache
  await candidate();
  for (let r = 0; r < rounds; r++) {
    let b: RunResult;
    let c: RunResult;
    if (r % 2 === 0) {
      b = await baseline();
      c = await candidate();
    } else {
      c = await candidate();
      b = await baseline();
    }
    base.push(b);
    cand.push(c);
    ratios.push(c.opsPerSec / b.opsPerSec);
  }
  const byThroughput = (runs: RunResult[]) =>
    [...runs].sort((x, y) => x.opsPerSec - y.opsPerSec)[runs.length >> 1]!;
  return {
    baseline: byThroughput(base),
    candidate: byThroughput(cand),
    ratio: [...ratios].sort((x, y) => x - y)[ratios.length >> 1]!,
  };
}
