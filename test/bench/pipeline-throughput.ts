import { storeInstances } from '../pipeline/synthetic/store-instances';
import type { BenchSeries } from './pipeline-inputs';
import { analyzeBatch } from './pipeline-jobs';
import type { ThroughputResult } from './pipeline-report';
import type { BenchService } from './pipeline-service';
import { cpuSince, machineBusySeconds, threadCpu } from './thread-cpu';

/**
 * Studies analysed before the measured batches, for JIT and ONNX Runtime warm-up: two per analysis thread
 * (two threads at most). Each thread compiles its own code, so one study each left the two-worker service
 * colder than the one-worker service, whose only thread had seen both.
 */
export const WARM_UP_STUDIES = 4;

export interface WorkerComparison {
  /** The mode's label in the table. */
  readonly mode: string;
  /** Starts the service of this mode with `workers` workers. */
  readonly start: (workers: number) => Promise<BenchService>;
  readonly batchSize: number;
  /** Measured batches per worker count. */
  readonly rounds: number;
  readonly log: (message: string) => void;
}

/** "decode 160, suv 70, ...": each stage's mean over the batch's jobs (where the time went with 1 and 2 workers). */
function meanStages(jobs: readonly { readonly timingsMs: Record<string, number> }[]): string {
  const sums = new Map<string, number>();
  for (const j of jobs) for (const [stage, ms] of Object.entries(j.timingsMs)) sums.set(stage, (sums.get(stage) ?? 0) + ms);
  return [...sums].map(([stage, ms]) => `${stage} ${Math.round(ms / jobs.length)}`).join(', ');
}

/**
 * "CPU per study: service main 20, service other threads 150, machine 190 ms": where a batch's CPU went, per study.
 * The other threads are the analysis threads with V8's and libuv's helpers; the machine's total adds the benchmark
 * client and everything else running.
 */
async function withCpuSplit<T>(service: BenchService, studies: number, run: () => Promise<T>): Promise<{ result: T; split: string }> {
  const [threads0, machine0] = [threadCpu(service.pid), machineBusySeconds()];
  const result = await run();
  const used = cpuSince(threads0, threadCpu(service.pid));
  const main = used.get(String(service.pid)) ?? 0;
  const total = [...used.values()].reduce((a, b) => a + b, 0);
  const ms = (s: number) => Math.round((1000 * s) / studies);
  return { result, split: `CPU per study: service main ${ms(main)}, service other threads ${ms(total - main)}, machine ${ms(machineBusySeconds() - machine0)} ms` };
}

/** Stores every copy, analyses the warm-up studies, and returns the studies of the measured batch. */
async function prepare(service: BenchService, copies: readonly BenchSeries[], batchSize: number): Promise<string[]> {
  for (const c of copies) await storeInstances(`${service.root}/dicomweb`, c.instances, batchSize);
  const uids = copies.map((c) => c.studyInstanceUid);
  await analyzeBatch(service, uids.slice(0, WARM_UP_STUDIES));
  return uids.slice(WARM_UP_STUDIES);
}

/**
 * The same batch of studies analysed at once (POST analyze) by one worker and by two, on two services started
 * side by side; the batches alternate between them (1, 2, 2, 1, 1, 2, ...) so that a change in the machine's
 * background load falls on both alike. Each later round re-runs the same studies (new job ids and versions).
 */
export async function compareOneAndTwoWorkers(c: WorkerComparison, copies: readonly BenchSeries[]): Promise<ThroughputResult[]> {
  const services: BenchService[] = [];
  try {
    for (const workers of [1, 2]) services.push(await c.start(workers));
    const batches: string[][] = [];
    for (const service of services) batches.push(await prepare(service, copies, c.batchSize));
    const spans: number[][] = [[], []];
    const jobMs = [0, 0];
    for (let round = 0; round < c.rounds; round++) {
      for (const k of round % 2 ? [1, 0] : [0, 1]) {
        const service = services[k] as BenchService;
        const batch = batches[k] as string[];
        const { result: { spanMs, jobs }, split } = await withCpuSplit(service, batch.length, () => analyzeBatch(service, batch));
        spans[k]?.push(spanMs);
        jobMs[k] = (jobMs[k] as number) + jobs.reduce((n, j) => n + ((j.finishedAt as number) - (j.startedAt as number)), 0) / jobs.length / c.rounds;
        c.log(`throughput, ${c.mode}, ${k + 1} worker(s), round ${round + 1}: ${jobs.length} studies in ${(spanMs / 1000).toFixed(2)} s; `
          + `mean stage ms ${meanStages(jobs)}; ${split}`);
      }
    }
    return [0, 1].map((k) => ({ mode: c.mode, workers: k + 1, studies: batches[k]?.length ?? 0, spansMs: spans[k] ?? [],
      meanJobMs: jobMs[k] ?? NaN }));
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
}
