/**
 * Inference benchmark of the shipped MIP model: ONNX Runtime (onnxruntime-node, CPU) against its peer,
 * PyTorch eager on the same weights (training/bench_torch.py), on one 400 x 991 MIP.
 *
 *   npx tsx scripts/bench-inference.ts [--threads 1,2] [--runs 20] [--warmup 3] [--image mip.png]
 *                                      [--model-dir models/mip-attention-unet] [--no-peer]
 *
 * Prints a Markdown table. GFLOPs per image are 2 x the Conv/ConvTranspose multiply-accumulates that
 * training/macs.py counted with PyTorch forward hooks (model.json architecture.convMacsPerPaddedPixel);
 * pooling, activations and the final resize are not counted. Timings are only comparable within one run:
 * the load average printed above the table says how busy the machine was.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadModel, pngToModelInput, roundUpToMultiple, type ModelInput } from '../shared/src/inference';

interface Row { engine: string; threads: number; loadMs: number; p50Ms: number; p95Ms: number }

interface BenchOptions {
  readonly modelDir: string;
  readonly image: string | undefined;
  readonly threads: readonly number[];
  readonly runs: number;
  readonly warmup: number;
  readonly peer: boolean;
  readonly torchPython: string;
}

function readBenchOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string', default: resolve(__dirname, '..', 'models', 'mip-attention-unet') },
      image: { type: 'string' },
      threads: { type: 'string', default: '1,2' },
      runs: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      'no-peer': { type: 'boolean', default: false },
      'torch-python': { type: 'string', default: '/usr/bin/python3' },
    },
  });
  const counts = [values.runs, values.warmup].map(Number);
  const threads = values.threads.split(',').map(Number);
  if ([...counts, ...threads].some((n) => !Number.isInteger(n) || n < 0) || threads.includes(0) || counts[0] === 0) {
    throw new Error('--runs, --warmup and --threads take whole numbers (runs and threads at least 1)');
  }
  return Object.freeze({
    modelDir: values['model-dir'], image: values.image, threads, runs: counts[0] as number, warmup: counts[1] as number,
    peer: !values['no-peer'], torchPython: values['torch-python'],
  });
}

function percentile(sorted: readonly number[], p: number): number {
  // Linear interpolation between closest ranks, as numpy.percentile does, so both engines are read alike.
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

/** A fixed pseudo-random 400 x 991 input (the network's latency does not depend on content; the output filter's does, by a few ms), or the given PNG. */
function benchImage(path: string | undefined): ModelInput {
  if (path) return pngToModelInput(readFileSync(path));
  const width = 400;
  const height = 991;
  const data = new Float32Array(width * height);
  let state = 2023;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    data[i] = state / 2 ** 32;
  }
  return { data, width, height };
}

async function benchOnnx(opts: BenchOptions, image: ModelInput, threads: number): Promise<Row> {
  const { runs, warmup } = opts;
  const t0 = performance.now();
  const model = await loadModel(opts.modelDir, { threads, executionProvider: 'cpu' });
  const loadMs = performance.now() - t0;
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const start = performance.now();
      await model.segment(image.data, image.width, image.height);
      if (i >= warmup) times.push(performance.now() - start);
    }
  } finally {
    await model.release();
  }
  times.sort((a, b) => a - b);
  return { engine: 'onnxruntime-node (segment)', threads, loadMs, p50Ms: percentile(times, 50), p95Ms: percentile(times, 95) };
}

function benchTorch(opts: BenchOptions, image: ModelInput): Row[] {
  const training = join(opts.modelDir, 'training');
  const run = spawnSync(opts.torchPython, [join(training, 'bench_torch.py'), '--weights', join(opts.modelDir, 'model.pt'),
    '--height', String(image.height), '--width', String(image.width), '--threads', opts.threads.join(','),
    '--runs', String(opts.runs), '--warmup', String(opts.warmup)], { cwd: training, encoding: 'utf8' });
  if (run.status !== 0) {
    console.warn(`PyTorch peer skipped: ${run.error?.message ?? run.stderr.trim().split('\n').pop()}`);
    return [];
  }
  const out = JSON.parse(run.stdout) as { torch: string; results: { threads: number; p50_ms: number; p95_ms: number }[] };
  return out.results.map((r) => ({ engine: `PyTorch ${out.torch} eager (forward)`, threads: r.threads, loadMs: NaN, p50Ms: r.p50_ms, p95Ms: r.p95_ms }));
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 1) : 'n/a';
}

async function main(): Promise<void> {
  const opts = readBenchOptions();
  const image = benchImage(opts.image);
  const rows: Row[] = [];
  for (const t of opts.threads) rows.push(await benchOnnx(opts, image, t));
  const peakRssMiB = process.resourceUsage().maxRSS / 1024; // this process only: the peer runs in its own
  if (opts.peer) rows.push(...benchTorch(opts, image));

  const manifest = JSON.parse(readFileSync(join(opts.modelDir, 'model.json'), 'utf8')) as {
    version: string; input: { paddingMultiple: number }; architecture: { convMacsPerPaddedPixel: number };
  };
  const m = manifest.input.paddingMultiple;
  const [pw, ph] = [roundUpToMultiple(image.width, m), roundUpToMultiple(image.height, m)];
  const gflop = (2 * manifest.architecture.convMacsPerPaddedPixel * pw * ph) / 1e9;
  console.log(`model ${manifest.version}; image ${image.width} x ${image.height} (padded ${pw} x ${ph}); ${opts.runs} runs after ${opts.warmup} warm-ups`);
  console.log(`${gflop.toFixed(2)} GFLOP per image (2 x conv MACs, counted by training/macs.py); peak RSS of this process ${peakRssMiB.toFixed(0)} MiB`);
  console.log(`${cpus().length} CPUs, load average ${loadavg()[0]?.toFixed(2)} at the end (other work on the machine slows every row)\n`);
  console.log('| engine | threads | load (ms) | p50 (ms) | p95 (ms) | GFLOP/s at p50 |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.engine} | ${r.threads} | ${fmt(r.loadMs)} | ${fmt(r.p50Ms)} | ${fmt(r.p95Ms)} | ${fmt(gflop / (r.p50Ms / 1000))} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
