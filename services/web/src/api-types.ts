/**
 * What the worklist API returns: a copy of services/gateway/src/worklist/worklist-types.ts, because the page is
 * compiled for the browser on its own. test/worklist/api-types-agree.test.ts checks that the two stay the same.
 */

/** The AI state of a study as the worklist shows it: "waiting" and "none" have no job yet. */
/** 'deleted': the newest job finished, but its result series have since been deleted (a reader rejected them). */
export type AiState = 'waiting' | 'none' | 'queued' | 'running' | 'done' | 'deleted' | 'not-applicable' | 'failed';

export const AI_STATES: readonly AiState[] = ['waiting', 'none', 'queued', 'running', 'done', 'deleted', 'not-applicable', 'failed'];

export interface ExportSummary {
  readonly destination: string;
  readonly state: 'pending' | 'sent' | 'retrying' | 'failed' | 'superseded';
  readonly attempts: number;
  readonly detail: string | null;
  readonly updatedAt: number;
}

export interface AiStatus {
  readonly state: AiState;
  readonly jobId: string | null;
  readonly stage: string | null;
  /** 0-100 within the current stage. */
  readonly progress: number;
  /** Why a study is not applicable or failed. */
  readonly reason: string | null;
  readonly failureCode: string | null;
  readonly createdAt: number | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly lesionCount: number | null;
  readonly tumourAreaMm2: number | null;
  readonly exports: readonly ExportSummary[];
}

export interface WorklistStudy {
  readonly studyInstanceUid: string;
  readonly patientName: string | null;
  readonly patientId: string | null;
  readonly patientBirthDate: string | null;
  readonly patientSex: string | null;
  /** YYYYMMDD as in DICOM. */
  readonly studyDate: string | null;
  readonly studyTime: string | null;
  readonly accessionNumber: string | null;
  readonly studyDescription: string | null;
  readonly modalities: readonly string[];
  /** PET series with more than one image (acquired volumes; single-image series such as MIPs are left out). */
  readonly petSeries: number;
  readonly instances: number;
  readonly ai: AiStatus;
}

export interface WorklistPage {
  readonly studies: readonly WorklistStudy[];
  readonly offset: number;
  readonly limit: number;
  /** More studies match beyond this page. */
  readonly hasMore: boolean;
}

export interface SeriesSummary {
  readonly seriesInstanceUid: string;
  readonly modality: string | null;
  readonly seriesNumber: number | null;
  readonly seriesDescription: string | null;
  readonly instances: number;
}

export interface InstanceLinks {
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  /** WADO-RS Retrieve Instance (multipart/related). */
  readonly wadoRsUrl: string;
  /** The stored file as application/dicom, for a browser download. */
  readonly downloadUrl: string;
}

export interface StudyResult {
  readonly jobId: string;
  readonly version: number | null;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly lesionCount: number;
  readonly tumourAreaMm2: number;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  readonly timingsMs: Readonly<Record<string, number>>;
  readonly mip: InstanceLinks & { readonly renderedUrl: string };
  readonly seg: InstanceLinks & { readonly overlayUrl: string };
  readonly exports: readonly ExportSummary[];
}

export interface JobSummary {
  readonly id: string;
  readonly state: string;
  readonly reason: string | null;
  readonly version: number | null;
  readonly trigger: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /**
   * This run's PACS exports (none until its result is done): an older version's show whether it reached the PACS, or
   * why not (superseded by a newer result, failed).
   */
  readonly exports: readonly ExportSummary[];
}

export interface StudyDetail {
  readonly study: WorklistStudy;
  readonly series: readonly SeriesSummary[];
  readonly result: StudyResult | null;
  readonly jobs: readonly JobSummary[];
  /** Whether older jobs than `jobs` lists exist (the API's /api/jobs lists them all). */
  readonly moreJobs: boolean;
  readonly viewer: { readonly available: boolean; readonly url: string };
}

export interface SegmentMipResponse {
  readonly width: number;
  readonly height: number;
  readonly lesionCount: number;
  readonly tumourPixels: number;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly elapsedMs: number;
  /** The mask as the DM i AI label style (grey PNG, 0 and 255), base64. */
  readonly maskPng: string;
  /** The mask as a transparent RGBA PNG to lay over the image, base64. */
  readonly overlayPng: string;
}

/** The server-sent event `studies`: these studies changed (a new instance, a job state or progress). */
export interface StudiesChangedEvent {
  readonly studies: readonly string[];
}

/**
 * The server-sent event `ping`, sent when a stream opens and every `intervalMs` after: a page that has had no event
 * for several intervals is on a dead connection, however open it looks.
 */
export interface StreamPingEvent {
  readonly intervalMs: number;
}
