import type { JobRecord } from './job-types';

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
