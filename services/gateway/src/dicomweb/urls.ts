import type { Request } from 'express';

/**
 * The origin (scheme://host[:port]) as the client reached us: behind a trusted proxy (TRUST_PROXY) as
 * X-Forwarded-Proto/Host say, else the connection's scheme and the Host header.
 */
export function requestOrigin(req: Request): string {
  return `${req.protocol}://${req.host ?? 'localhost'}`;
}

/** The DICOMweb base URL as the client reached us (RetrieveURL and BulkDataURI are built on it). */
export function dicomwebBase(req: Request): string {
  return `${requestOrigin(req)}/dicomweb`;
}

export function studyUrl(base: string, study: string): string {
  return `${base}/studies/${study}`;
}

export function seriesUrl(base: string, study: string, series: string): string {
  return `${studyUrl(base, study)}/series/${series}`;
}

export function instanceUrl(base: string, study: string, series: string, sop: string): string {
  return `${seriesUrl(base, study, series)}/instances/${sop}`;
}
