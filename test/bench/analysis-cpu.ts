/**
 * What one analysis costs an analysis thread: runs deriveSeriesResults (decode → SUV → MIP → inference →
 * DICOM write, as a ComputePool thread does) on one series in memory, `--runs` times in this process after
 * `--warmup` unmeasured runs, and prints per-stage wall times and the process CPU time per job. CPU time is the
 * figure two workers on two cores compete for: it counts V8's GC and background threads and ONNX Runtime's,
 * which wall times on the thread do not show.
 *
 *   npx tsx test/bench/analysis-cpu.ts [--series DIR] [--runs N] [--warmup N]
 *   npx tsx test/bench/analysis-cpu.ts --write-large DIR   (the synthetic 400×400×600 series, written once)
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadModel, type SegmentationModel } from '@mipseg/shared/inference';
import { deriveSeriesResults, type ComputeStage, type ComputeTimings } from '../../services/worker/src/pipeline/derive-series-results';
import { boundedInt, flagsFromArgv } from './cli-options';
import { largeSyntheticSeries } from './pipeline-inputs';

const ROOT = resolve(__dirname, '..', '..');
const MODEL_DIR = join(ROOT, 'models', 'mip-attention-unet');
const SHARED = resolve(ROOT, '..', 'shared', 'data');
const DEFAULTS = {
  series: join(SHARED, 'pet-dicom', 'ge-discovery-st-wholebody'),
  runs: '10',
  warmup: '2',
  largeSource: join(SHARED, 'mip-pet', 'patients', 'imgs', 'patient_174.png'),
};
const USAGE = 'usage: npx tsx test/bench/analysis-cpu.ts [--series DIR] [--runs N] [--warmup N] | --write-large DIR';
const STAGES: readonly ComputeStage[] = ['decode', 'suv', 'mip', 'inference', 'write'];
const EQUIPMENT = { manufacturerModelName: 'mipseg', softwareVersions: 'bench', deviceSerialNumber: 'analysis-cpu' };

/** One job: wall times per stage, and process CPU (user + system) in the three spans the thread reports. */
interface JobMeasure {
  readonly timingsMs: ComputeTimings;
  readonly wallMs: number;
  readonly cpuMs: { readonly beforeInference: number; readonly inference: number; readonly write: number; readonly total: number };
}

const cpuNowMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function measureJob(instances: readonly Uint8Array[], model: SegmentationModel): Promise<JobMeasure> {
  const marks: number[] = [cpuNowMs()];
  const t0 = performance.now();
  const { timingsMs } = await deriveSeriesResults(instances, model, EQUIPMENT, () => marks.push(cpuNowMs()));
  const wallMs = performance.now() - t0;
  const [start = 0, inference = 0, write = 0] = marks;
  const end = cpuNowMs();
  return { timingsMs, wallMs, cpuMs: { beforeInference: inference - start, inference: write - inference, write: end - write, total: end - start } };
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

function report(series: string, jobs: readonly JobMeasure[]): string {
  const stage = (s: ComputeStage): string => mean(jobs.map((j) => j.timingsMs[s] ?? NaN)).toFixed(0);
  const cpu = (f: (j: JobMeasure) => number): string => mean(jobs.map(f)).toFixed(0);
  return [
    `${series}: mean of ${jobs.length} jobs, ms (CPU = process user + system, all threads)`,
    `| ${STAGES.join(' | ')} | job wall | CPU decode…mip | CPU inference | CPU write | **CPU per job** | peak RSS (MB) |`,
    `| ${STAGES.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | ---: | ---: |`,
    `| ${STAGES.map(stage).join(' | ')} | ${cpu((j) => j.wallMs)} | ${cpu((j) => j.cpuMs.beforeInference)} | ` +
      `${cpu((j) => j.cpuMs.inference)} | ${cpu((j) => j.cpuMs.write)} | **${cpu((j) => j.cpuMs.total)}** | ` +
      `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} |`,
  ].join('\n');
}

function readSeries(dir: string): Uint8Array[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();
  if (files.length === 0) throw new Error(`no .dcm files in ${dir}\n${USAGE}`);
  return files.map((f) => new Uint8Array(readFileSync(join(dir, f))));
}

function writeLarge(dir: string): void {
  const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')) as
    { input: { pixelSpacingMm: number; intensity: { fromSuv: { suvWhite: number } } } };
  const series = largeSyntheticSeries(DEFAULTS.largeSource, manifest.input.intensity.fromSuv.suvWhite, manifest.input.pixelSpacingMm);
  mkdirSync(dir, { recursive: true });
  series.instances.forEach((bytes, i) => writeFileSync(join(dir, `${String(i).padStart(4, '0')}.dcm`), bytes));
  console.log(`${series.instances.length} instances written to ${dir}`);
}

async function main(): Promise<void> {
  const flags = flagsFromArgv(process.argv.slice(2),
    { '--series': 'series', '--runs': 'runs', '--warmup': 'warmup', '--write-large': 'writeLarge' }, USAGE);
  if (flags.writeLarge !== undefined) {
    writeLarge(resolve(flags.writeLarge));
    return;
  }
  const dir = resolve(flags.series ?? DEFAULTS.series);
  const runs = boundedInt(flags.runs ?? DEFAULTS.runs, 'runs', 1, 1000, USAGE);
  const warmup = boundedInt(flags.warmup ?? DEFAULTS.warmup, 'warmup', 0, 100, USAGE);
  const instances = readSeries(dir);
  const model = await loadModel(MODEL_DIR, { threads: 1, executionProvider: 'cpu' });
  try {
    for (let i = 0; i < warmup; i++) await measureJob(instances, model);
    const jobs: JobMeasure[] = [];
    for (let i = 0; i < runs; i++) jobs.push(await measureJob(instances, model));
    console.log(report(`${dir} (${instances.length} instances)`, jobs));
  } finally {
    await model.release();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
