import { storeInstances } from '../pipeline/synthetic/store-instances';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';
import type { BenchService } from './pipeline-service';

/** A job as the jobs API returns it, with the fields ApiJob leaves out. */
export interface BenchJob extends Omit<ApiJob, 'exports'> {
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly request: { readonly instanceCount: number } | null;
  readonly exports: ReadonlyArray<{ destination: string; state: string; attempts: number; detail?: string; updatedAt: number }>;
}

/** One series through the service: stored by STOW-RS, analysed after the quiet period, results stored. */
export interface SeriesMeasure {
  readonly instances: number;
  readonly bytes: number;
  readonly stowSeconds: number;
  /** The job's own stage timings (jobs API timingsMs). */
  readonly stagesMs: Readonly<Record<string, number>>;
  /** finishedAt − startedAt. */
  readonly jobMs: number;
  /** startedAt − (last STOW response + quiet period): planning and the runner's poll. */
  readonly pickupMs: number;
  /** finishedAt − (last STOW response + quiet period): last instance stored → SEG stored, quiet period excluded. */
  readonly latencyMs: number;
  /** Last export 'sent' − finishedAt, when exports are configured. */
  readonly exportMs: number | undefined;
}

/**
 * A job in a final state with its finish time. In queue mode the jobs API can briefly show a job 'done' with
 * finishedAt null (bullmq-job-queue.ts toRecord reads the job's hash before its state), so both are awaited.
 */
const isDone = (j: BenchJob): boolean => ['done', 'failed', 'not-applicable'].includes(j.state) && j.finishedAt !== null;

function exportMs(job: BenchJob): number | undefined {
  if (job.exports.length === 0) return undefined;
  if (job.exports.some((e) => e.state !== 'sent')) throw new Error(`job ${job.id}: export ${JSON.stringify(job.exports)}`);
  return Math.max(...job.exports.map((e) => e.updatedAt)) - (job.finishedAt as number);
}

/** Waits for the job that analysed all `instances` of the study (and for its exports, when `exports` > 0). */
async function finishedJob(service: BenchService, study: string, instances: number, exports: number): Promise<BenchJob> {
  const complete = (j: BenchJob) => isDone(j) && j.request?.instanceCount === instances;
  const settled = (j: BenchJob) => j.exports.length === exports && j.exports.every((e) => ['sent', 'failed'].includes(e.state));
  const jobs = (await waitForJobs(service.root, study, (js) => (js as unknown as BenchJob[]).some((j) => complete(j) &&
    (j.state !== 'done' || settled(j))), 600_000)) as unknown as BenchJob[];
  const job = jobs.find(complete) as BenchJob;
  if (job.state !== 'done') throw new Error(`job ${job.id} ${job.state}: ${job.failureCode} ${job.failureReason}`);
  return job;
}

/** Stores a series (in memory) by STOW-RS and measures its analysis through the jobs API. */
export async function measureSeries(service: BenchService, study: string, instances: readonly Buffer[], batchSize: number,
  exports: number): Promise<SeriesMeasure> {
  const t0 = Date.now();
  const sent = await storeInstances(`${service.root}/dicomweb`, instances, batchSize);
  const job = await finishedJob(service, study, instances.length, exports);
  const due = sent.finishedAt + service.quietPeriodMs;
  return {
    instances: sent.stored, bytes: sent.bytes, stowSeconds: (sent.finishedAt - t0) / 1000,
    stagesMs: job.timingsMs, jobMs: (job.finishedAt as number) - (job.startedAt as number),
    pickupMs: (job.startedAt as number) - due, latencyMs: (job.finishedAt as number) - due, exportMs: exportMs(job),
  };
}

async function getJob(service: BenchService, id: string): Promise<BenchJob> {
  const res = await fetch(`${service.root}/api/jobs/${id}`);
  if (!res.ok) throw new Error(`GET /api/jobs/${id}: ${res.status}`);
  return (await res.json()) as BenchJob;
}

/** Analyses the studies now (POST /api/studies/{uid}/analyze, all at once) and waits for every job. */
export async function analyzeBatch(service: BenchService, studies: readonly string[]): Promise<{ spanMs: number; jobs: BenchJob[] }> {
  const t0 = Date.now();
  const ids: string[] = [];
  for (const study of studies) {
    const res = await fetch(`${service.root}/api/studies/${study}/analyze`, { method: 'POST' });
    const body = (await res.json()) as { kind: string; jobId: string };
    if (res.status !== 202 || body.kind !== 'queued') throw new Error(`analyze ${study}: ${res.status} ${JSON.stringify(body)}`);
    ids.push(body.jobId);
  }
  // Only jobs not yet finished are asked for, every 250 ms: the service under test answers these requests on
  // the same event loop that runs its analyses, and the span comes from the jobs' own finishedAt, not from
  // when the poll noticed.
  const finished = new Map<string, BenchJob>();
  for (;;) {
    const pending = ids.filter((id) => !finished.has(id));
    for (const job of await Promise.all(pending.map((id) => getJob(service, id)))) if (isDone(job)) finished.set(job.id, job);
    if (finished.size === ids.length) {
      const jobs = ids.map((id) => finished.get(id) as BenchJob);
      const failed = jobs.find((j) => j.state !== 'done');
      if (failed) throw new Error(`job ${failed.id} ${failed.state}: ${failed.failureCode} ${failed.failureReason}`);
      return { spanMs: Math.max(...jobs.map((j) => j.finishedAt as number)) - t0, jobs };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
