import { boundedInt, flagsFromArgv } from './cli-options';
import { cpus } from 'node:os';
import { resolve } from 'node:path';

/** What one run of the archive benchmark does; read once from argv and the environment, then frozen. */
export interface BenchOptions {
  /** Copies of the reference series, each with new Study/Series/SOP Instance UIDs (267 instances each). */
  readonly copies: number;
  /** Instances per STOW request, the same for both servers (the CLI's default). */
  readonly batchSize: number;
  /** Measured repetitions of each QIDO query per server (after `warmup` unmeasured ones); 0 skips QIDO. */
  readonly qidoReps: number;
  readonly warmup: number;
  /** Where the reference series is. */
  readonly sourceDir: string;
  /** When set, mipseg runs under `node --cpu-prof` and writes its profile here. */
  readonly profileDir: string | undefined;
}

const DEFAULTS = {
  // 38 × 267 = 10,146: each store holds over 10,000 instances when QIDO is measured.
  BENCH_COPIES: '38',
  BENCH_BATCH_SIZE: '100',
  BENCH_QIDO_REPS: '200',
  BENCH_WARMUP: '10',
  BENCH_SOURCE: resolve(__dirname, '..', '..', '..', 'shared', 'data', 'pet-dicom', 'ge-discovery-st-wholebody'),
  BENCH_PROFILE_DIR: '',
} as const;

type Key = keyof typeof DEFAULTS;

const FLAGS: Record<string, Key> = {
  '--copies': 'BENCH_COPIES',
  '--batch-size': 'BENCH_BATCH_SIZE',
  '--qido-reps': 'BENCH_QIDO_REPS',
  '--warmup': 'BENCH_WARMUP',
  '--source': 'BENCH_SOURCE',
  '--profile': 'BENCH_PROFILE_DIR',
};

export const USAGE = `usage: npm run bench:archive -- [--copies N] [--batch-size N] [--qido-reps N] [--warmup N]
  [--source DIR] [--profile DIR]   (or BENCH_COPIES, BENCH_BATCH_SIZE, ... in the environment)
defaults: ${Object.entries(DEFAULTS).map(([k, v]) => `${k}=${v}`).join(' ')}`;

function fromArgv(argv: readonly string[]): Partial<Record<Key, string>> {
  return flagsFromArgv(argv, FLAGS, USAGE);
}

function int(raw: string, key: Key, min: number, max: number): number {
  return boundedInt(raw, key, min, max, USAGE);
}

export function readBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const given = fromArgv(argv);
  const read = (key: Key): string => given[key] ?? env[key] ?? DEFAULTS[key];
  const profile = read('BENCH_PROFILE_DIR');
  return Object.freeze({
    copies: int(read('BENCH_COPIES'), 'BENCH_COPIES', 1, 1000),
    batchSize: int(read('BENCH_BATCH_SIZE'), 'BENCH_BATCH_SIZE', 1, 10_000),
    qidoReps: int(read('BENCH_QIDO_REPS'), 'BENCH_QIDO_REPS', 0, 10_000),
    warmup: int(read('BENCH_WARMUP'), 'BENCH_WARMUP', 0, 1000),
    sourceDir: resolve(read('BENCH_SOURCE')),
    profileDir: profile ? resolve(profile) : undefined,
  });
}

export function machineSummary(): string {
  const [model = 'unknown CPU'] = cpus().map((c) => c.model);
  return `${cpus().length} cores (${model.trim()}), Node ${process.version}`;
}
