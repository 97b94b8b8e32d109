import type { AnalysisRequest, JobRequestSummary } from './job-types';

/** A request as a job store holds it: in full while the job may still run, summarised once it has finished. */
export type StoredAnalysisRequest = AnalysisRequest | JobRequestSummary;

/**
 * The request without its instance list, which only the analysis reads: a whole-body series names 300–700
 * instances (20–45 kB a job), which finished jobs would otherwise keep in Redis for ever and every job list
 * (the worklist reads thousands) would read again.
 */
export function summariseRequest(request: StoredAnalysisRequest): JobRequestSummary {
  if (!('sopInstanceUids' in request)) return request;
  const { sopInstanceUids, ...rest } = request;
  return { ...rest, instanceCount: sopInstanceUids.length };
}
