import type { Logger } from '../log';
import type { ExportState, JobRecord } from './job-types';

/**
 * Each series' newest analysis among these jobs: the one with the highest result version, on-demand runs included
 * (not-applicable records have no series). What planning reads as a series' current content, and retention keeps.
 */
export function newestAnalysisBySeries(jobs: readonly JobRecord[]): Map<string, JobRecord> {
  const newest = new Map<string, JobRecord>();
  for (const job of jobs) {
    const request = job.request;
    if (!request) continue;
    const held = newest.get(request.seriesInstanceUid)?.request;
    if (!held || request.version > held.version) newest.set(request.seriesInstanceUid, job);
  }
  return newest;
}

/** Export states of a newer result that stand for it at its destination: it is there, or on its way. */
const GOING_TO_DESTINATION: ReadonlySet<ExportState> = new Set(['pending', 'retrying', 'sent']);

/**
 * The analysis whose result supersedes job `jobId`'s at `destination`, if any among these jobs: the newest done
 * analysis of the same series with a higher result version whose own export to that destination is pending, retrying
 * or sent. Only a done one counts: a newer version still queued or running may yet fail, and until it is done the older
 * result is the series' best (a newer one that is done later is exported after it). Only one going to the same
 * destination: a destination taken out of EXPORT_DESTINATIONS since the older result was queued gets no newer one,
 * nor does one that refused the newer (its export failed), and either would otherwise be left with no result at all.
 * Kept simple: the newer export is judged as it stands at the older one's attempt; should it fail after, the older
 * one stays superseded (final) and the newer one's retry button is what sends that destination a result.
 */
export function supersedingAnalysis(jobs: readonly JobRecord[], jobId: string, destination: string): JobRecord | undefined {
  const own = jobs.find((j) => j.id === jobId)?.request;
  if (!own) return undefined;
  const newer = jobs.filter((j) => j.state === 'done' && j.result !== null && j.request !== null
    && j.request.studyInstanceUid === own.studyInstanceUid && j.request.seriesInstanceUid === own.seriesInstanceUid
    && j.request.version > own.version
    && j.exports.some((e) => e.destination === destination && GOING_TO_DESTINATION.has(e.state)));
  return newestAnalysisBySeries(newer).get(own.seriesInstanceUid);
}

/**
 * Why the result of job `jobId` is no longer to be sent to `destination`, or undefined: the detail of a 'superseded'
 * export (see supersedingAnalysis). Both runners ask it before each attempt, so that an export retried while its PACS
 * was down does not reach it after a newer result of the series, leaving the older one the newest the PACS received.
 * `studyJobs` reads the jobs of the result's study.
 *
 * Where they cannot be read (a database or Redis error, one job of the study unreadable), the export is sent, as an
 * ordinary attempt: the check only keeps an older result from arriving after a newer one, which takes a newer one done
 * while this export waited; holding every export of the study back (or failing it, once attempts were spent on the
 * check) leaves the PACS with no result at all, a worse outcome than an older one arriving late. Logged, not thrown.
 */
export async function supersededExportDetail(studyJobs: () => Promise<readonly JobRecord[]>,
  { jobId, destination }: { readonly jobId: string; readonly destination: string }, log: Logger): Promise<string | undefined> {
  let jobs: readonly JobRecord[];
  try {
    jobs = await studyJobs();
  } catch (err) {
    log.warn({ err, jobId, destination }, 'could not check for a newer result of the series; the export is sent');
    return undefined;
  }
  const newer = supersedingAnalysis(jobs, jobId, destination);
  if (!newer) return undefined;
  return `superseded by version ${newer.request?.version ?? '?'} of the series' analysis (job ${newer.id}), done before this ` +
    `result was sent and sent or being sent to ${destination}: the older result is not sent after it`;
}
