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
 * Measures a baseline and a candidate in alternating rounds (so drift in the machine hits both
 * alike) and keeps each side's median round by throughput.
 */
export async function compare(
  baseline: () => Promise<RunResult>,
  candidate: () => Promise<RunResult>,
  rounds = 5,
): Promise<{ baseline: RunResult; candidate: RunResult; ratio: number }> {
  const base: RunResult[] = [];
  const cand: RunResult[] = [];
  await baseline(); // warm-up: JIT, connections, script cache
  await candidate();
  for (let r = 0; r < rounds; r++) {
    base.push(await baseline());
    cand.push(await candidate());
  }
  const median = (runs: RunResult[]) =>
    [...runs].sort((a, b) => a.opsPerSec - b.opsPerSec)[runs.length >> 1]!;
  const b = median(base);
  const c = median(cand);
  return { baseline: b, candidate: c, ratio: c.opsPerSec / b.opsPerSec };
}
