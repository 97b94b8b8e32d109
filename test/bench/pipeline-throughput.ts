import { storeInstances } from '../pipeline/synthetic/store-instances';
import type { BenchSeries } from './pipeline-inputs';
import { analyzeBatch } from './pipeline-jobs';
import type { ThroughputResult } from './pipeline-report';
import type { BenchService } from './pipeline-service';

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
        const { spanMs, jobs } = await analyzeBatch(services[k] as BenchService, batches[k] as string[]);
        spans[k]?.push(spanMs);
        jobMs[k] = (jobMs[k] as number) + jobs.reduce((n, j) => n + ((j.finishedAt as number) - (j.startedAt as number)), 0) / jobs.length / c.rounds;
        c.log(`throughput, ${c.mode}, ${k + 1} worker(s), round ${round + 1}: ${jobs.length} studies in ${(spanMs / 1000).toFixed(2)} s; `
          + `mean stage ms ${meanStages(jobs)}`);
      }
    }
    return [0, 1].map((k) => ({ mode: c.mode, workers: k + 1, studies: batches[k]?.length ?? 0, spansMs: spans[k] ?? [],
      meanJobMs: jobMs[k] ?? NaN }));
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
}
