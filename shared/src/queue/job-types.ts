/**
 * What a worker does with a study, in order; timings and progress are reported per stage. The SUVbw factors
 * are applied while each slice is decoded and projected, so `suv` times computing the factors, `decode` the
 * parsing and decoding (factors included) and `mip` the projection and resampling (see MipStageTimings).
 */
export const STAGES = ['select', 'decode', 'suv', 'mip', 'inference', 'write', 'store', 'export'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * A job's life: queued → running → done | not-applicable | failed. "waiting" is a study still receiving
 * instances (inside its quiet period); it has no job yet, only a pending entry.
 */
export type JobState = 'queued' | 'running' | 'done' | 'not-applicable' | 'failed';

/** The request a job carries: analyse one PET series of a study, as it was at planning time. */
export interface AnalysisRequest {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** SOP Instance UIDs of the series at planning time (the worker analyses exactly these). */
  readonly sopInstanceUids: readonly string[];
  readonly contentHash: string;
  readonly reason: 'study-complete' | 'on-demand';
  /** Result version: 1 for the first result of a series, +1 for each re-run or late-instance update. */
  readonly version: number;
  /**
   * A random UUID drawn when the job was planned, from which the result's UIDs are derived (seededUidSource):
   * every attempt of the job writes the same UIDs, so a retry after a partly stored result replaces it
   * rather than adding a second MIP or SEG. Absent in jobs planned before it existed: random UIDs then.
   */
  readonly resultUidSeed?: string;
}

/** An analysis as planned, before the queue gives it its result version (AnalysisRequest.version). */
export type AnalysisPlan = Omit<AnalysisRequest, 'version'>;

/** A job's request as the jobs API shows it, and as a finished job keeps it: the instance list replaced by its length. */
export type JobRequestSummary = Omit<AnalysisRequest, 'sopInstanceUids'> & { readonly instanceCount: number };

export interface ResultUids {
  readonly studyInstanceUid: string;
  readonly mipSeriesInstanceUid: string;
  readonly mipSopInstanceUid: string;
  readonly segSeriesInstanceUid: string;
  readonly segSopInstanceUid: string;
  readonly lesionCount: number;
  readonly tumourAreaMm2: number;
  readonly modelName: string;
  readonly modelVersion: string;
}

/** The instances a result consists of: what must still be stored for it to be shown. */
export type ResultInstances = Pick<ResultUids, 'mipSopInstanceUid' | 'segSopInstanceUid'>;

/**
 * An export's life: pending → sent | retrying → … → sent | failed. 'superseded': not sent, and never will be, because a
 * newer result of the same series (a higher AnalysisRequest.version) was done before this one went out; sending the
 * older one then would make it the destination's newest. Final, as 'sent' is: no error, so nothing to retry.
 */
export type ExportState = 'pending' | 'sent' | 'retrying' | 'failed' | 'superseded';

export interface ExportStatus {
  readonly destination: string;
  readonly state: ExportState;
  readonly attempts: number;
  readonly detail?: string;
  readonly updatedAt: number;
}

/** A job as the jobs API shows it, whatever runs it (BullMQ or the embedded runner). */
export interface JobRecord {
  readonly id: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string | null;
  readonly state: JobState;
  readonly stage: Stage | null;
  readonly progress: number;
  readonly attempts: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly timingsMs: Partial<Record<Stage, number>>;
  readonly failureCode: string | null;
  readonly failureReason: string | null;
  readonly result: ResultUids | null;
  readonly exports: readonly ExportStatus[];
  readonly request: JobRequestSummary | null;
}

export interface JobFilter {
  readonly studyInstanceUid?: string;
  readonly state?: JobState;
  readonly limit: number;
  readonly offset: number;
}

/** Progress a job reports while it runs. */
export interface JobProgress {
  stage(stage: Stage, progress: number): Promise<void>;
  timing(stage: Stage, ms: number): void;
}

/** How many exports, of the jobs still kept, are in one state for one destination. */
export interface ExportCount {
  readonly destination: string;
  readonly state: ExportState;
  readonly count: number;
}

/** What /metrics shows of the job store at each scrape (JobQueue.jobCounts): counts only, read from indexes. */
export interface JobCounts {
  readonly byState: Readonly<Record<JobState, number>>;
  /** When the oldest job that could run now (queued, no attempt pending a backoff) was made; null with none. */
  readonly oldestWaitingCreatedAt: number | null;
  readonly exports: readonly ExportCount[];
}

/** A done analysis as /metrics reads it, for its duration histograms (JobQueue.analysesDoneSince). */
export interface DoneAnalysis {
  readonly id: string;
  readonly studyInstanceUid: string;
  readonly reason: AnalysisRequest['reason'] | null;
  readonly createdAt: number;
  readonly finishedAt: number;
  readonly timingsMs: Partial<Record<Stage, number>>;
}
