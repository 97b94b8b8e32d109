import { MipsegError } from '@mipseg/shared/errors';
import type { JobRecord, ResultUids } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { instanceUrl } from '../dicomweb/urls';
import { isResultStored, toExportSummary } from './ai-status';
import { readQueue } from '../queue-read';
import { filter, readPendingStudies, toWorklistStudies, type WorklistSources } from './worklist-query';
import type { InstanceLinks, JobSummary, SeriesSummary, StudyDetail, StudyResult } from './worklist-types';

/** Root-relative links, so that the page works behind any reverse proxy that keeps the paths. */
const DICOMWEB = '/dicomweb';

export function downloadUrl(study: string, series: string, sop: string): string {
  return `/api/studies/${study}/series/${series}/instances/${sop}/file`;
}

function links(study: string, series: string, sop: string): InstanceLinks {
  return { seriesInstanceUid: series, sopInstanceUid: sop, wadoRsUrl: instanceUrl(DICOMWEB, study, series, sop), downloadUrl: downloadUrl(study, series, sop) };
}

function toResult(job: JobRecord, result: ResultUids): StudyResult {
  const s = result.studyInstanceUid;
  const mip = links(s, result.mipSeriesInstanceUid, result.mipSopInstanceUid);
  const seg = links(s, result.segSeriesInstanceUid, result.segSopInstanceUid);
  return {
    jobId: job.id,
    version: job.request?.version ?? null,
    modelName: result.modelName,
    modelVersion: result.modelVersion,
    lesionCount: result.lesionCount,
    tumourAreaMm2: result.tumourAreaMm2,
    finishedAt: job.finishedAt,
    durationMs: job.finishedAt !== null && job.startedAt !== null ? job.finishedAt - job.startedAt : null,
    timingsMs: job.timingsMs,
    mip: { ...mip, renderedUrl: `${mip.wadoRsUrl}/rendered` },
    seg: { ...seg, overlayUrl: `/api/studies/${s}/overlay.png?seg=${result.segSopInstanceUid}` },
    exports: job.exports.map(toExportSummary),
  };
}

function toJobSummary(job: JobRecord): JobSummary {
  return {
    id: job.id, state: job.state, reason: job.failureReason, version: job.request?.version ?? null, trigger: job.request?.reason ?? null,
    createdAt: job.createdAt, startedAt: job.startedAt, finishedAt: job.finishedAt, exports: job.exports.map(toExportSummary),
  };
}

function listSeries(archive: Archive, study: string): SeriesSummary[] {
  const { rows } = archive.index.search({ level: 'series', filters: [filter('StudyInstanceUID', study)], limit: 10_000, offset: 0 });
  return rows.map((r) => ({
    seriesInstanceUid: String(r['series_uid']),
    modality: r['modality'] === null || r['modality'] === undefined ? null : String(r['modality']),
    seriesNumber: typeof r['series_number'] === 'number' ? r['series_number'] : null,
    seriesDescription: r['series_description'] === null || r['series_description'] === undefined ? null : String(r['series_description']),
    instances: r.number_of_series_related_instances ?? 0,
  }));
}

/** Jobs the study view lists, newest first; GET /api/jobs?study= lists them all. */
const HISTORY_JOBS = 50;

export interface StudyDetailOptions {
  readonly viewerAvailable: boolean;
}

/** Everything the study view shows: the worklist row, its series, the latest result and the job history. */
export async function readStudyDetail(sources: WorklistSources, study: string, options: StudyDetailOptions): Promise<StudyDetail> {
  const { rows } = sources.archive.index.search({ level: 'study', filters: [filter('StudyInstanceUID', study)], limit: 1, offset: 0 });
  if (rows.length === 0) throw new MipsegError('MIPSEG_NOT_FOUND', `study ${study}`);
  const pending = await readPendingStudies(sources.queue);
  const [row] = await toWorklistStudies(sources, rows, pending);
  const jobs = await readQueue(sources.queue.listJobs({ studyInstanceUid: study, limit: HISTORY_JOBS + 1, offset: 0 }), `the jobs of study ${study}`);
  // The newest result, unless its series were deleted (the row then says so); an older version is superseded. Its
  // own query, as the results API's: a study re-sent or run again often has it past the newest HISTORY_JOBS.
  const [done] = await readQueue(sources.queue.listJobs({ studyInstanceUid: study, state: 'done', limit: 1, offset: 0 }), `the results of study ${study}`);
  const stored = done?.result && isResultStored(sources.archive, done.result) ? done.result : undefined;
  return {
    study: row as StudyDetail['study'],
    series: listSeries(sources.archive, study),
    result: done && stored ? toResult(done, stored) : null,
    jobs: jobs.slice(0, HISTORY_JOBS).map(toJobSummary),
    moreJobs: jobs.length > HISTORY_JOBS,
    viewer: { available: options.viewerAvailable, url: `/viewer?StudyInstanceUIDs=${study}` },
  };
}

/** The newest finished result of a study (for the overlay when no SEG is named). */
export async function latestResult(sources: WorklistSources, study: string): Promise<ResultUids | undefined> {
  const jobs = await readQueue(sources.queue.listJobs({ studyInstanceUid: study, state: 'done', limit: 1, offset: 0 }), `the results of study ${study}`);
  const result = jobs[0]?.result ?? undefined;
  return result && isResultStored(sources.archive, result) ? result : undefined;
}
