/**
 * Pipeline benchmark: PET series through `mipseg serve` (embedded mode), stage by stage. For the GE series and
 * a synthetic 400×400×600 series: the job's stage timings (jobs API timingsMs), the time from the last
 * instance stored to the SEG stored (quiet period excluded) and the process's peak RSS; then a batch of
 * studies analysed by one and by two workers: WORKER_CONCURRENCY 1 and 2 in one embedded `mipseg serve`, and
 * (the peer) one and two `mipseg worker` processes in queue mode. Prints Markdown tables (docs/benchmarks.md,
 * "Pipeline").
 * Run: `npm run build && npm run bench:pipeline` (see pipeline-options.ts for every option).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readModelManifest, type ModelManifest } from '@mipseg/shared/inference';
import { CLI } from '../support/mipseg-process';
import { startOrthanc } from '../support/orthanc';
import { startRedis } from '../support/redis';
import { machineSummary } from './bench-options';
import { geSeriesCopies, LARGE_SHAPE, largeSyntheticSeries, type BenchSeries } from './pipeline-inputs';
import { measureSeries, type SeriesMeasure } from './pipeline-jobs';
import { readPipelineBenchOptions, type PipelineBenchOptions } from './pipeline-options';
import { latencyTable, throughputTable, type LatencyResult, type ThroughputResult } from './pipeline-report';
import { startBenchService, type BenchServiceOptions } from './pipeline-service';
import { compareOneAndTwoWorkers, WARM_UP_STUDIES } from './pipeline-throughput';

const MODEL_DIR = resolve(__dirname, '..', '..', 'models', 'mip-attention-unet');
const GOALS = { geLatencyMs: 1000, largeLatencyMs: 3000, largeRssMb: 1024, speedUp: 1.7 } as const;
/** Long enough that no study is analysed by itself: the throughput batch is started by POST analyze. */
const NEVER_MS = 3_600_000;

const log = (message: string) => process.stderr.write(`${message}\n`);
const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');

interface Context {
  readonly options: PipelineBenchOptions;
  readonly manifest: ModelManifest;
  readonly exportDestinations: string | undefined;
  readonly serviceOptions: (workers: number, quietPeriodMs: number, label: string, exports?: boolean) => BenchServiceOptions;
}

/** Runs series one after another through one fresh service process; `next(i)` makes the i-th. */
async function latencyScenario(ctx: Context, series: string, next: (i: number) => BenchSeries,
  goals: Pick<LatencyResult, 'goalLatencyMs' | 'goalRssMb'>): Promise<LatencyResult> {
  const service = await startBenchService(ctx.serviceOptions(1, ctx.options.quietPeriodMs, series));
  try {
    const runs: SeriesMeasure[] = [];
    for (let i = 0; i < ctx.options.reps; i++) {
      const s = next(i);
      const m = await measureSeries(service, s.studyInstanceUid, s.instances, ctx.options.batchSize, ctx.exportDestinations ? 1 : 0);
      log(`${series} #${i + 1}: ${m.instances} instances (${(m.bytes / 1e6).toFixed(0)} MB) in ${m.stowSeconds.toFixed(2)} s; ` +
        `job ${m.jobMs} ms ${JSON.stringify(m.stagesMs)}; last instance → SEG ${m.latencyMs} ms (quiet excluded); load ${load()}`);
      runs.push(m);
    }
    return { series, runs, peakRssMb: service.peakRssMb(), ...goals };
  } finally {
    await service.stop();
  }
}

const MODE_LABEL = {
  embedded: 'embedded: WORKER_CONCURRENCY in one `mipseg serve`',
  queue: 'queue (BullMQ on Redis): `mipseg worker` processes',
} as const;

/** The batch with 1 and 2 workers, embedded and (where asked) in queue mode on a private Redis. */
async function throughput(ctx: Context, copies: readonly BenchSeries[]): Promise<ThroughputResult[]> {
  // No exports here: in embedded mode they would run on the same event loop as the analyses being counted.
  const base = (workers: number, label: string) => ctx.serviceOptions(workers, NEVER_MS, label, false);
  const common = { batchSize: ctx.options.batchSize, rounds: ctx.options.rounds, log: (m: string) => log(`${m}; load ${load()}`) };
  const results = await compareOneAndTwoWorkers({ ...common, mode: MODE_LABEL.embedded,
    start: (workers) => startBenchService(base(workers, `throughput-embedded-${workers}`)) }, copies);
  if (!ctx.options.queueMode) return results;
  const redis = await startRedis();
  try {
    return [...results, ...await compareOneAndTwoWorkers({ ...common, mode: MODE_LABEL.queue,
      start: (workers) => startBenchService({ ...base(1, `throughput-queue-${workers}`), queue: { redisUrl: redis.url, workers } }) }, copies)];
  } finally {
    await redis.stop();
  }
}

async function run(ctx: Context, workDir: string): Promise<string[]> {
  const { options, manifest } = ctx;
  const out: string[] = [];
  const latency: LatencyResult[] = [];
  const needCopies = Math.max(options.scenarios.includes('ge') ? options.reps : 0, options.scenarios.includes('throughput') ? options.studies + WARM_UP_STUDIES : 0);
  const copies = needCopies ? await geSeriesCopies(options.geDir, join(workDir, 'ge'), needCopies) : [];
  if (options.scenarios.includes('ge')) {
    latency.push(await latencyScenario(ctx, 'GE Discovery ST 128×128×267 (9.7 MB)', (i) => copies[i] as BenchSeries,
      { goalLatencyMs: GOALS.geLatencyMs }));
  }
  if (options.scenarios.includes('large')) {
    const { columns, rows, slices } = LARGE_SHAPE;
    latency.push(await latencyScenario(ctx, `synthetic ${columns}×${rows}×${slices} (${(columns * rows * slices * 2 / 1e6).toFixed(0)} MB)`,
      () => largeSyntheticSeries(options.largeSourcePng, manifest.input.intensity.fromSuv.suvWhite as number, manifest.input.pixelSpacingMm),
      { goalLatencyMs: GOALS.largeLatencyMs, goalRssMb: GOALS.largeRssMb }));
  }
  if (latency.length) out.push(latencyTable(latency));
  if (options.scenarios.includes('throughput')) {
    out.push(throughputTable(await throughput(ctx, copies.slice(0, options.studies + WARM_UP_STUDIES)), GOALS.speedUp));
  }
  return out;
}

async function main(): Promise<void> {
  const options = readPipelineBenchOptions(process.argv.slice(2), process.env);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const manifest = await readModelManifest(MODEL_DIR);
  const workDir = await mkdtemp(join(tmpdir(), 'mipseg-pipeline-bench-'));
  const orthanc = options.exportToOrthanc ? await startOrthanc({ name: 'mipseg-pipeline-bench-orthanc' }) : undefined;
  const exportDestinations = orthanc ? `stow:${orthanc.dicomwebUrl}` : undefined;
  const ctx: Context = { options, manifest, exportDestinations, serviceOptions: (workers, quietPeriodMs, label, exports = true) => ({
    workerConcurrency: workers, quietPeriodMs, ...(exportDestinations && exports ? { exportDestinations } : {}),
    ...(options.profileDir ? { profileDir: join(options.profileDir, label.replace(/[^\w.-]+/g, '_')) } : {}),
  }) };
  const started = new Date();
  const loadBefore = load();
  try {
    const tables = await run(ctx, workDir);
    process.stdout.write([`Run of ${started.toISOString()}: ${machineSummary()}, model ${manifest.version}; ` +
      `QUIET_PERIOD_MS ${options.quietPeriodMs}, STOW batches of ${options.batchSize}, ${options.reps} series per kind` +
      `${orthanc ? ', results of the latency runs exported to Orthanc by STOW-RS' : ''}. Load average before ${loadBefore}, after ${load()}.`,
    '', ...tables.flatMap((t) => [t, ''])].join('\n'));
  } finally {
    await orthanc?.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
