import { boundedInt, flagsFromArgv } from './cli-options';
import { resolve } from 'node:path';

/** What one run of the pipeline benchmark does; read once from argv and the environment, then frozen. */
export interface PipelineBenchOptions {
  /** Which parts run: `ge` (the GE series), `large` (synthetic 400×400×600), `throughput` (1 vs 2 workers). */
  readonly scenarios: readonly Scenario[];
  /** Series analysed per latency scenario, each a new study; the first one is reported apart (cold). */
  readonly reps: number;
  /** Studies in the throughput batch. */
  readonly studies: number;
  /** Measured throughput batches per worker count (alternating between one worker and two). */
  readonly rounds: number;
  /** The service's QUIET_PERIOD_MS in the latency scenarios (subtracted from the latency reported). */
  readonly quietPeriodMs: number;
  /** Instances per STOW-RS request. */
  readonly batchSize: number;
  /** Export each result to a private Orthanc by STOW-RS, and time it. */
  readonly exportToOrthanc: boolean;
  /** Also run the throughput batch in queue mode (private Redis, 1 and 2 `mipseg worker` processes). */
  readonly queueMode: boolean;
  /** The reference GE series. */
  readonly geDir: string;
  /** A DM i AI patient MIP (≥ 600 rows) the synthetic 400×400×600 series is made from. */
  readonly largeSourcePng: string;
  /** When set, mipseg runs with a main-thread CPU profiler and writes its profiles here. */
  readonly profileDir: string | undefined;
}

export type Scenario = 'ge' | 'large' | 'throughput';
const SCENARIOS: readonly Scenario[] = ['ge', 'large', 'throughput'];

const SHARED = resolve(__dirname, '..', '..', '..', 'shared', 'data');

const DEFAULTS = {
  BENCH_PIPELINE_SCENARIOS: SCENARIOS.join(','),
  BENCH_PIPELINE_REPS: '3',
  BENCH_PIPELINE_STUDIES: '10',
  BENCH_PIPELINE_ROUNDS: '3',
  BENCH_PIPELINE_QUIET_MS: '1000',
  BENCH_PIPELINE_BATCH_SIZE: '200',
  BENCH_PIPELINE_EXPORT: 'false',
  BENCH_PIPELINE_QUEUE: 'true',
  BENCH_PIPELINE_GE_DIR: resolve(SHARED, 'pet-dicom', 'ge-discovery-st-wholebody'),
  BENCH_PIPELINE_LARGE_SOURCE: resolve(SHARED, 'mip-pet', 'patients', 'imgs', 'patient_174.png'),
  BENCH_PIPELINE_PROFILE_DIR: '',
} as const;

type Key = keyof typeof DEFAULTS;

const FLAGS: Record<string, Key> = {
  '--scenarios': 'BENCH_PIPELINE_SCENARIOS',
  '--reps': 'BENCH_PIPELINE_REPS',
  '--studies': 'BENCH_PIPELINE_STUDIES',
  '--rounds': 'BENCH_PIPELINE_ROUNDS',
  '--quiet-ms': 'BENCH_PIPELINE_QUIET_MS',
  '--batch-size': 'BENCH_PIPELINE_BATCH_SIZE',
  '--export': 'BENCH_PIPELINE_EXPORT',
  '--queue': 'BENCH_PIPELINE_QUEUE',
  '--ge-dir': 'BENCH_PIPELINE_GE_DIR',
  '--large-source': 'BENCH_PIPELINE_LARGE_SOURCE',
  '--profile': 'BENCH_PIPELINE_PROFILE_DIR',
};

export const USAGE = `usage: npm run bench:pipeline -- [--scenarios ge,large,throughput] [--reps N] [--studies N]
  [--rounds N] [--quiet-ms MS] [--batch-size N] [--export true|false] [--queue true|false] [--ge-dir DIR] [--large-source PNG] [--profile DIR]
  (or BENCH_PIPELINE_SCENARIOS, BENCH_PIPELINE_REPS, ... in the environment)
defaults: ${Object.entries(DEFAULTS).map(([k, v]) => `${k}=${v}`).join(' ')}`;

function fromArgv(argv: readonly string[]): Partial<Record<Key, string>> {
  return flagsFromArgv(argv, FLAGS, USAGE);
}

function int(raw: string, key: Key, min: number, max: number): number {
  return boundedInt(raw, key, min, max, USAGE);
}

function scenarios(raw: string): Scenario[] {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((s) => !SCENARIOS.includes(s as Scenario));
  if (bad !== undefined || list.length === 0) throw new Error(`BENCH_PIPELINE_SCENARIOS=${raw} (some of ${SCENARIOS.join(', ')})\n${USAGE}`);
  return list as Scenario[];
}

function bool(raw: string, key: Key): boolean {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`${key}=${raw} (true or false)\n${USAGE}`);
}

export function readPipelineBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): PipelineBenchOptions {
  const given = fromArgv(argv);
  const read = (key: Key): string => given[key] ?? env[key] ?? DEFAULTS[key];
  const profile = read('BENCH_PIPELINE_PROFILE_DIR');
  return Object.freeze({
    scenarios: Object.freeze(scenarios(read('BENCH_PIPELINE_SCENARIOS'))),
    reps: int(read('BENCH_PIPELINE_REPS'), 'BENCH_PIPELINE_REPS', 1, 100),
    studies: int(read('BENCH_PIPELINE_STUDIES'), 'BENCH_PIPELINE_STUDIES', 2, 200),
    rounds: int(read('BENCH_PIPELINE_ROUNDS'), 'BENCH_PIPELINE_ROUNDS', 1, 100),
    quietPeriodMs: int(read('BENCH_PIPELINE_QUIET_MS'), 'BENCH_PIPELINE_QUIET_MS', 0, 600_000),
    batchSize: int(read('BENCH_PIPELINE_BATCH_SIZE'), 'BENCH_PIPELINE_BATCH_SIZE', 1, 10_000),
    exportToOrthanc: bool(read('BENCH_PIPELINE_EXPORT'), 'BENCH_PIPELINE_EXPORT'),
    queueMode: bool(read('BENCH_PIPELINE_QUEUE'), 'BENCH_PIPELINE_QUEUE'),
    geDir: resolve(read('BENCH_PIPELINE_GE_DIR')),
    largeSourcePng: resolve(read('BENCH_PIPELINE_LARGE_SOURCE')),
    profileDir: profile ? resolve(profile) : undefined,
  });
}
