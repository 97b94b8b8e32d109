import type { ExportStatus, JobRecord, ResultInstances } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import type { AiStatus, ExportSummary } from './worklist-types';

export function toExportSummary(e: ExportStatus): ExportSummary {
  return { destination: e.destination, state: e.state, attempts: e.attempts, detail: e.detail ?? null, updatedAt: e.updatedAt };
}

const NO_JOB = {
  jobId: null, stage: null, progress: 0, reason: null, failureCode: null, createdAt: null, startedAt: null, finishedAt: null,
  lesionCount: null, tumourAreaMm2: null, exports: [],
} as const;

/** Shown for a result whose series were deleted: the job record stays, the images do not. */
const DELETED_REASON = 'the result (its MIP or SEG series) was deleted; Run again makes a new one';

/**
 * Whether a result's MIP and SEG are both among `stored` (SOP Instance UIDs the index holds): a reader rejects a
 * result by deleting its series, and the job that made it keeps its record (the audit trail), so the record alone
 * cannot say. `stored` may hold many results' instances: a list checks them all in one index query.
 */
export function isResultAmong(stored: ReadonlySet<string>, result: ResultInstances): boolean {
  return stored.has(result.mipSopInstanceUid) && stored.has(result.segSopInstanceUid);
}

/** Whether a result's MIP and SEG are both still in the archive (see isResultAmong). */
export function isResultStored(archive: Archive, result: ResultInstances): boolean {
  return isResultAmong(archive.index.storedSopInstanceUids([result.mipSopInstanceUid, result.segSopInstanceUid]), result);
}

/** The newest job, for the worklist: a done job whose result was deleted shows as 'deleted', not as a finding. */
export function aiStatusOfStudy(archive: Archive, job: JobRecord | undefined, waiting: boolean): AiStatus {
  const status = aiStatusOf(job, waiting);
  if (status.state !== 'done' || !job?.result || isResultStored(archive, job.result)) return status;
  return { ...status, state: 'deleted', reason: DELETED_REASON, lesionCount: null, tumourAreaMm2: null };
}

/**
 * A study's AI state from its newest job. A study inside its quiet period shows "waiting" whatever an earlier
 * job did: the images are still changing, and a new result will follow.
 */
export function aiStatusOf(job: JobRecord | undefined, waiting: boolean): AiStatus {
  if (waiting) return { ...NO_JOB, state: 'waiting' };
  if (!job) return { ...NO_JOB, state: 'none' };
  return {
    state: job.state,
    jobId: job.id,
    stage: job.stage,
    progress: job.progress,
    reason: job.state === 'failed' || job.state === 'not-applicable' ? job.failureReason : null,
    failureCode: job.failureCode,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    lesionCount: job.result?.lesionCount ?? null,
    tumourAreaMm2: job.result?.tumourAreaMm2 ?? null,
    exports: job.exports.map(toExportSummary),
  };
}
