/**
 * How the analysis alone scales from one thread to two: a ComputePool of 1 and of 2 analysis threads (as
 * WORKER_CONCURRENCY makes them) runs the same batch of series, each given as file paths that the thread reads
 * itself (as in embedded mode), with no gateway, index, job state or HTTP around it. Rounds alternate between the
 * pools (1, 2, 2, 1, ...). Beside each batch: the process's CPU time per job and, from /proc, how it was split
 * between the analysis threads and everything else (main thread, V8's GC helpers, libuv). Compare with the
 * whole-service speed-up of `npm run bench:pipeline -- --scenarios throughput`; the gap is what the service
 * adds. As a peer for what this machine gives any two-thread job, the same runs a pure arithmetic loop.
 *
 *   npx tsx test/bench/analysis-scaling.ts [--series DIR] [--studies N] [--rounds N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createLogger } from '@mipseg/shared/log';
import { ComputePool } from '../../services/worker/src/pipeline/compute-pool';
import type { SeriesResults } from '../../services/worker/src/pipeline/derive-series-results';
import { boundedInt, flagsFromArgv } from './cli-options';
import { median } from './pipeline-report';

const ROOT = resolve(__dirname, '..', '..');
const DEFAULT_SERIES = resolve(ROOT, '..', 'shared', 'data', 'pet-dicom', 'ge-discovery-st-wholebody');
const USAGE = 'usage: npx tsx test/bench/analysis-scaling.ts [--series DIR] [--studies N] [--rounds N]';
const EQUIPMENT = { manufacturerModelName: 'mipseg', softwareVersions: 'bench', deviceSerialNumber: 'analysis-scaling' };
const TICKS_PER_S = 100; // USER_HZ on Linux

/** CPU seconds per thread of this process, keyed by thread id, with the thread's name. */
function threadCpu(): Map<string, { name: string; seconds: number }> {
  const out = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S });
    } catch { /* the thread ended between readdir and read */ }
  }
  return out;
}

const STAGES = ['decode', 'mip', 'inference', 'write'] as const;
type StageMs = Record<(typeof STAGES)[number], number>;

interface Batch { readonly seconds: number; readonly cpuPerJobMs: number; readonly analysisShare: number; readonly stageMs: StageMs }

/** Median wall time of each stage over the batch's series (decode includes reading the files; suv is part of it). */
function stageMedians(results: readonly SeriesResults[]): StageMs {
  const of = (stage: (typeof STAGES)[number]) => median(results.map((r) => r.timingsMs[stage] ?? 0));
  return { decode: of('decode') + median(results.map((r) => r.timingsMs.suv ?? 0)), mip: of('mip'), inference: of('inference'), write: of('write') };
}

async function runBatch(pool: ComputePool, files: readonly string[], studies: number, analysisTids: ReadonlySet<string>): Promise<Batch> {
  const before = threadCpu();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: studies }, () => pool.deriveSeriesResults({ files }, () => undefined)));
  const seconds = (performance.now() - t0) / 1000;
  let total = 0;
  let analysis = 0;
  for (const [tid, { seconds: s }] of threadCpu()) {
    const used = s - (before.get(tid)?.seconds ?? 0);
    total += used;
    if (analysisTids.has(tid)) analysis += used;
  }
  return { seconds, cpuPerJobMs: (1000 * total) / studies, analysisShare: total > 0 ? analysis / total : 0, stageMs: stageMedians(results) };
}

/** Threads that appeared while the pool started: the analysis threads and their ONNX Runtime threads. */
async function startPool(size: number): Promise<{ pool: ComputePool; tids: Set<string> }> {
  const before = new Set(threadCpu().keys());
  const pool = await ComputePool.start({
    size, log: createLogger('silent'),
    thread: { modelDir: join(ROOT, 'models', 'mip-attention-unet'), loadOptions: { threads: 1, executionProvider: 'cpu' }, equipment: EQUIPMENT },
  });
  return { pool, tids: new Set([...threadCpu().keys()].filter((t) => !before.has(t))) };
}

/** The peer: a loop with no memory traffic, once on one thread and twice on two. */
async function arithmeticSpeedUp(): Promise<number> {
  const source = 'let x = 1; for (let i = 0; i < 3e8; i++) x = (x * 1103515245 + 12345) >>> 0; require("worker_threads").parentPort.postMessage(x);';
  const run = async (n: number) => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, () => new Promise((done) => new Worker(source, { eval: true }).once('message', done))));
    return performance.now() - t0;
  };
  const one = await run(1);
  return (2 * one) / await run(2);
}

async function main(): Promise<void> {
  const flags = flagsFromArgv(process.argv.slice(2), { '--series': 'series', '--studies': 'studies', '--rounds': 'rounds' }, USAGE);
  const dir = resolve(flags.series ?? DEFAULT_SERIES);
  const studies = boundedInt(flags.studies ?? '10', 'studies', 2, 200, USAGE);
  const rounds = boundedInt(flags.rounds ?? '3', 'rounds', 1, 20, USAGE);
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(dir, f));
  const pools = [await startPool(1), await startPool(2)];
  try {
    // Warm-up: two series per thread, so that every thread has compiled its code and run its model once.
    for (const { pool, tids } of pools) await runBatch(pool, files, 4, tids);
    const batches: Batch[][] = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const p = pools[i] as { pool: ComputePool; tids: Set<string> };
        const b = await runBatch(p.pool, files, studies, p.tids);
        (batches[i] as Batch[]).push(b);
        process.stderr.write(`${i + 1} thread(s), round ${r + 1}: ${studies} series in ${b.seconds.toFixed(2)} s, ` +
          `CPU ${b.cpuPerJobMs.toFixed(0)} ms per series, ${(100 * b.analysisShare).toFixed(0)} % of it on the analysis threads\n`);
      }
    }
    const peer = await arithmeticSpeedUp();
    const one = median((batches[0] as Batch[]).map((b) => b.seconds));
    console.log(`Analysis threads alone, ${studies} series of ${files.length} instances (${dir}), median of ${rounds} rounds\n`);
    console.log(`| threads | batch (s) | CPU per series (ms) | on analysis threads | ${STAGES.join(' (ms) | ')} (ms) | speed-up |`);
    console.log(`| ---: | ---: | ---: | ---: | ${STAGES.map(() => '---: | ').join('')}---: |`);
    batches.forEach((bs, i) => {
      const s = median(bs.map((b) => b.seconds));
      const stages = STAGES.map((stage) => median(bs.map((b) => b.stageMs[stage])).toFixed(0)).join(' | ');
      console.log(`| ${i + 1} | ${s.toFixed(2)} | ${median(bs.map((b) => b.cpuPerJobMs)).toFixed(0)} | ` +
        `${(100 * median(bs.map((b) => b.analysisShare))).toFixed(0)} % | ${stages} | ${(one / s).toFixed(2)}× |`);
    });
    console.log(`\nPeer: an arithmetic loop (no memory traffic, no allocation) on two threads: ${peer.toFixed(2)}× one.`);
  } finally {
    await Promise.all(pools.map((p) => p.pool.close()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
