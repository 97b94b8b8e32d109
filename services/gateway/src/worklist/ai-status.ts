import type { ExportStatus, JobRecord } from '@mipseg/shared/queue';
import type { AiStatus, ExportSummary } from './worklist-types';

export function toExportSummary(e: ExportStatus): ExportSummary {
  return { destination: e.destination, state: e.state, attempts: e.attempts, detail: e.detail ?? null, updatedAt: e.updatedAt };
}

const NO_JOB = {
  jobId: null, stage: null, progress: 0, reason: null, failureCode: null, createdAt: null, startedAt: null, finishedAt: null,
  lesionCount: null, tumourAreaMm2: null, exports: [],
} as const;

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
