import type {
  AnalysisPlan, AnalysisRequest, DoneAnalysis, JobCounts, JobFilter, JobProgress, JobRecord, JobState, ResultInstances, ResultUids, ExportStatus,
} from './job-types';

/** What a job runner calls: planning a study after its quiet period, and analysing one series. */
export interface JobHandlers {
  /** The study's quiet period is over: decide what to analyse (and enqueue it). */
  checkStudy(studyInstanceUid: string): Promise<void>;
  /** Runs one analysis; returns the result's UIDs. Throw an unrecoverable error to fail at once. */
  analyze(jobId: string, request: AnalysisRequest, progress: JobProgress): Promise<ResultUids>;
  /** Sends a finished result to one destination; returns the new export status. */
  exportResult?(jobId: string, result: ResultUids, destination: string, attempt: number): Promise<ExportStatus>;
}

/** Which jobs this process takes: study checks need the archive; analyses and exports need the model. */
export interface ProcessingOptions {
  readonly concurrency: number;
  readonly studyChecks: boolean;
  readonly analyses: boolean;
}

/**
 * The jobs of mipseg, whatever runs them: BullMQ on Redis (queue mode, any number of workers) or the
 * embedded runner (one process, state in SQLite). Both are durable across restarts.
 */
export interface JobQueue {
  readonly mode: 'embedded' | 'bullmq';
  /** (Re)starts a study's quiet period: `checkStudy` runs `delayMs` after the last call for that study. */
  scheduleStudyCheck(studyInstanceUid: string, delayMs: number): Promise<void>;
  /**
   * Makes the study checks scheduled so far survive a power loss, where the queue's own writes do not (the embedded
   * runner's SQLite, written without an fsync per commit). Absent in queue mode, whose checks reach Redis through
   * the outbox, which the archive syncs itself (StudyCheckOutbox.syncToDisk).
   */
  syncToDisk?(): Promise<void>;
  /** Studies inside their quiet period ("waiting for more images"). */
  pendingStudies(): Promise<string[]>;
  /**
   * Adds an analysis job unless one with this id exists (a re-send of the same content), with the series' next
   * result version, which the queue allots at once with the insert: two studies planned at the same moment (a
   * double click on "analyse again") cannot both be given the same version.
   */
  enqueueAnalysis(jobId: string, plan: AnalysisPlan): Promise<{ created: true; version: number } | { created: false }>;
  /** Records a study with no eligible series, with the reason, as a finished job. */
  recordNotApplicable(jobId: string, studyInstanceUid: string, reason: string): Promise<void>;
  getJob(id: string): Promise<JobRecord | undefined>;
  /**
   * Whether a job with this id exists, for the planner: unlike getJob (which answers a person and fails at once
   * while Redis is away), it waits for the queue as the planner's other calls do.
   */
  hasJob(id: string): Promise<boolean>;
  listJobs(filter: JobFilter): Promise<JobRecord[]>;
  /** The newest job (by creation) of each of these studies: one lookup for a worklist page. Studies without a job are absent. */
  latestJobsByStudy(studyInstanceUids: readonly string[]): Promise<Map<string, JobRecord>>;
  /** Studies whose newest job is in `state` (the worklist's state filter). */
  studiesWithLatestJobState(state: JobState): Promise<string[]>;
  /** The MIP and SEG of each study whose newest job is done (the worklist's done and deleted filters), by study. */
  latestDoneResults(): Promise<Map<string, ResultInstances>>;
  /**
   * Removes the records of jobs that finished before `finishedBefore` (JOB_RETENTION_DAYS), with their exports, but
   * none that the service still reads: each study's newest job and newest done job (the worklist's AI status, the
   * study's results), each series' newest analysis (what content counts as new, and the next result version), and
   * any job with an export still to be sent. Resolves to how many were removed.
   */
  pruneFinishedJobs(finishedBefore: number): Promise<number>;
  /** For /metrics, at every scrape: jobs by state, the oldest one waiting to run, exports by destination and state. */
  jobCounts(): Promise<JobCounts>;
  /**
   * For /metrics: the analyses done at or after `since` (finishedAt, ms), oldest finish first, at most `limit`, leaving
   * out the ids in `except` (those already counted) before the limit applies.
   */
  analysesDoneSince(since: number, limit: number, except: ReadonlySet<string>): Promise<DoneAnalysis[]>;
  /** Sends a finished result to a destination again, from the start (the worklist's retry button). */
  retryExport(jobId: string, destination: string): Promise<boolean>;
  /** Starts taking jobs with these handlers (`concurrency` analyses at a time). */
  startProcessing(handlers: JobHandlers, options: ProcessingOptions): void;
  /**
   * Resolves when the queue can take and hand out jobs now; rejects (MIPSEG_QUEUE_UNAVAILABLE, or the store's
   * own error) when not. For /readyz: cheap, and never waits for a connection to come back.
   */
  ping(): Promise<void>;
  /** Stops taking jobs, lets running ones finish, closes connections. */
  close(): Promise<void>;
}
