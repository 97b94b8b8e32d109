/**
 * How the analysis alone scales from one thread to two: a ComputePool of 1 and of 2 analysis threads (as
 * WORKER_CONCURRENCY makes them) runs the same batch of series, each given as file paths that the thread reads
 * itself (as in embedded mode), with no gateway, index, job state or HTTP around it. Rounds alternate between the
 * pools (1, 2, 2, 1, ...). Beside each batch: the process's CPU time per job and, from /proc, how it was split
 * between the analysis threads and everything else (main thread, V8's GC helpers, libuv). Compare with the
 * whole-service speed-up of `npm run bench:pipeline -- --scenarios throughput`; the gap is what the service
 * adds. As peers for what this machine gives any two-thread job, the same run times an arithmetic loop, a
 * memory-bound loop and an allocating loop on one thread and on two.
 *
 *   npx tsx test/bench/analysis-scaling.ts [--series DIR] [--studies N] [--rounds N]
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createLogger } from '@mipseg/shared/log';
import { ComputePool } from '../../services/worker/src/pipeline/compute-pool';
import type { SeriesResults } from '../../services/worker/src/pipeline/derive-series-results';
import { boundedInt, flagsFromArgv } from './cli-options';
import { median } from './pipeline-report';
import { cpuSince, threadCpu } from './thread-cpu';

const ROOT = resolve(__dirname, '..', '..');
const DEFAULT_SERIES = resolve(ROOT, '..', 'shared', 'data', 'pet-dicom', 'ge-discovery-st-wholebody');
const USAGE = 'usage: npx tsx test/bench/analysis-scaling.ts [--series DIR] [--studies N] [--rounds N]';
const EQUIPMENT = { manufacturerModelName: 'mipseg', softwareVersions: 'bench', deviceSerialNumber: 'analysis-scaling' };
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
  for (const [tid, used] of cpuSince(before, threadCpu())) {
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

/**
 * The peers: what this machine gives any job on two threads against one, for three kinds of work. Each runs
 * once on one thread and twice at once on two (fresh threads each time, so that each compiles its own code).
 */
const PEERS = {
  // No memory traffic: what two cores give when nothing is shared.
  arithmetic: 'let x = 1; for (let i = 0; i < 6e8; i++) x = (x * 1103515245 + 12345) >>> 0; r = x;',
  // Streams 2 x 64 MB (twice the L3 cache) 24 times: what the memory system gives two threads at once.
  'memory-bound': 'const a = new Float32Array(16e6), b = new Float32Array(16e6); for (let k = 0; k < 24; k++) '
    + '{ for (let i = 0; i < a.length; i++) b[i] = a[i] * 0.5 + 1; a.set(b); } r = a[7];',
  // Short-lived objects and strings, as a DICOM parser makes per element: what V8's collector gives two threads.
  allocating: 'let n = 0; for (let i = 0; i < 2e7; i++) { const e = { tag: "x" + (i & 0xffff).toString(16), length: i & 255 }; '
    + 'n += e.tag.length + e.length; } r = n;',
} as const;

async function peerSpeedUp(body: string): Promise<number> {
  const source = `let r; ${body} require("worker_threads").parentPort.postMessage(r);`;
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
    const peers: string[] = [];
    for (const [name, body] of Object.entries(PEERS)) {
      const ups: number[] = [];
      for (let r = 0; r < rounds; r++) ups.push(await peerSpeedUp(body));
      peers.push(`${name} ${median(ups).toFixed(2)}× (${ups.map((u) => u.toFixed(2)).join(', ')})`);
    }
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
    console.log(`\nPeers, two threads against one, in the same run, median (rounds): ${peers.join(', ')}.`);
  } finally {
    await Promise.all(pools.map((p) => p.pool.close()));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
