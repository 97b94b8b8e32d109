import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndWait, startMipsegProcess, startMipsegWorker, type MipsegProcess } from '../support/mipseg-process';

/**
 * A `mipseg serve` in its own process, over a fresh data folder: embedded mode (SQLite + in-process jobs), or
 * queue mode (BullMQ on Redis) with `mipseg worker` processes that analyse.
 */
export interface BenchService {
  /** http://127.0.0.1:port */
  readonly root: string;
  readonly pid: number;
  readonly quietPeriodMs: number;
  /** The process's peak resident set so far (VmHWM), MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

export interface BenchServiceOptions {
  readonly quietPeriodMs: number;
  readonly workerConcurrency: number;
  readonly exportDestinations?: string;
  /** Profile the main thread into this folder (pipeline-cpu-profile.mjs). */
  readonly profileDir?: string;
  /** Queue mode: this many `mipseg worker` processes (one job each at a time) take the jobs from Redis. */
  readonly queue?: { readonly redisUrl: string; readonly workers: number };
}

const PROFILE_PRELOAD = join(__dirname, 'pipeline-cpu-profile.mjs');

/** VmHWM of a process (Linux): the peak resident set size since it started. */
export function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  const kb = Number(/(\d+)/.exec(line ?? '')?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return kb / 1024;
}

function serviceEnv(options: BenchServiceOptions, dataDir: string): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    QUIET_PERIOD_MS: String(options.quietPeriodMs),
    WORKER_CONCURRENCY: String(options.workerConcurrency),
    DIMSE_ENABLED: 'false',
    EXPORT_DESTINATIONS: options.exportDestinations ?? '',
    ...(options.profileDir ? { NODE_OPTIONS: `--import ${PROFILE_PRELOAD}`, BENCH_CPU_PROFILE_DIR: options.profileDir } : {}),
  };
}

/** Starts the built CLI (`npm run build` first) with logging at info (its ready line is read) and no DIMSE port. */
export async function startBenchService(options: BenchServiceOptions): Promise<BenchService> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mipseg-pipeline-bench-'));
  const queueEnv: Record<string, string> = options.queue ? { REDIS_URL: options.queue.redisUrl, QUEUE_PREFIX: `bench-${randomUUID()}` } : {};
  const env = { ...serviceEnv(options, dataDir), ...queueEnv };
  const mipseg = await startMipsegProcess(env);
  const root = `http://127.0.0.1:${mipseg.httpPort}`;
  const workers: MipsegProcess[] = [];
  for (let i = 0; i < (options.queue?.workers ?? 0); i++) {
    workers.push(await startMipsegWorker({ ...env, GATEWAY_URL: `${root}/dicomweb`, DATA_DIR: join(dataDir, `worker-${i}`) }));
  }
  const pid = mipseg.child.pid ?? -1;
  return {
    root,
    pid,
    quietPeriodMs: options.quietPeriodMs,
    peakRssMb: () => peakRssMb(pid),
    stop: async () => {
      await Promise.all(workers.map((w) => killAndWait(w.child, 'SIGTERM')));
      await killAndWait(mipseg.child, 'SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
