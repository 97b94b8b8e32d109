import type { ExportStatus, JobRecord, JobState, ResultUids, Stage } from './job-types';
import { summariseRequest, type StoredAnalysisRequest } from './request-summary';

/** A jobs-table row as SQLite returns it. */
export interface JobRow {
  id: string;
  study_uid: string;
  series_uid: string | null;
  state: JobState;
  stage: Stage | null;
  progress: number;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  timings: string;
  failure_code: string | null;
  failure_reason: string | null;
  result: string | null;
  request: string | null;
  /** How often a start found it running (embedded-schema.ts); not shown: a stall is not the job's doing. */
  stalls: number;
}

export interface ExportRow {
  job_id: string;
  destination: string;
  state: ExportStatus['state'];
  attempts: number;
  detail: string | null;
  updated_at: number;
}

export function toJobRecord(row: JobRow, exports: readonly ExportRow[]): JobRecord {
  return {
    id: row.id,
    studyInstanceUid: row.study_uid,
    seriesInstanceUid: row.series_uid,
    state: row.state,
    stage: row.stage,
    progress: row.progress,
    attempts: row.attempts,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    timingsMs: JSON.parse(row.timings) as Partial<Record<Stage, number>>,
    failureCode: row.failure_code,
    failureReason: row.failure_reason,
    result: row.result ? (JSON.parse(row.result) as ResultUids) : null,
    request: row.request ? summariseRequest(JSON.parse(row.request) as StoredAnalysisRequest) : null,
    exports: exports.map((e) => ({
      destination: e.destination,
      state: e.state,
      attempts: e.attempts,
      updatedAt: e.updated_at,
      ...(e.detail ? { detail: e.detail } : {}),
    })),
  };
}
