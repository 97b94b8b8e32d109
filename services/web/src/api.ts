import type { SegmentMipResponse, StudyDetail, WorklistPage } from './api-types.js';
import { noteServerDate } from './server-clock.js';

/** The server answered 401: the page shows the login form. */
export class AuthRequiredError extends Error {
  override readonly name = 'AuthRequiredError';
}

/** Any other refusal, with the server's catalogue code and message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** No answer came (fetch's TypeError: the server down, DNS, the network): asking again may pass. */
export class ServerUnreachableError extends Error {
  override readonly name = 'ServerUnreachableError';
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { credentials: 'same-origin', ...init });
  } catch (err) {
    // fetch rejects with a TypeError ("Failed to fetch") that says nothing to a reader; an abort is passed on as it is.
    if (err instanceof TypeError) throw new ServerUnreachableError('Server unreachable (network)', { cause: err });
    throw err;
  }
}

/**
 * The answer's JSON body; undefined for an error's body that is not JSON (a proxy's error page) and for a success with
 * no content (204). A success answered with anything else (an SSO proxy's sign-in page, HTML with 200) or with JSON
 * that cannot be read (cut off) is an ApiError that says so, not undefined for callers to trip over.
 */
async function readBody(res: Response): Promise<unknown> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('json')) {
    if (!res.ok || res.status === 204) return undefined;
    throw new ApiError(res.status, 'UNEXPECTED_RESPONSE',
      `HTTP ${res.status}: the answer was not JSON (${type.split(';')[0] || 'no content type'}); a proxy in between may want a sign-in`);
  }
  try {
    return await res.json();
  } catch (err) {
    if (!res.ok) return undefined;
    throw new ApiError(res.status, 'UNREADABLE_RESPONSE', `HTTP ${res.status}: the answer could not be read (incomplete or invalid JSON)`,
      { cause: err });
  }
}

async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await send(url, init);
  noteServerDate(res.headers.get('date'));
  if (res.status === 401) throw new AuthRequiredError('authentication required');
  const body = await readBody(res);
  if (!res.ok) {
    const err = (body ?? {}) as { code?: string; message?: string };
    // Not statusText alone: HTTP/2 has none, and a proxy's HTML error page would leave an empty message.
    throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? `HTTP ${res.status} ${res.statusText}`.trim());
  }
  return body as T;
}

export interface WorklistFilter {
  readonly patient?: string;
  readonly accession?: string;
  readonly from?: string;
  readonly to?: string;
  readonly state?: string;
}

export function fetchWorklist(filter: WorklistFilter, limit: number, offset: number): Promise<WorklistPage> {
  const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  for (const [key, value] of Object.entries(filter)) if (typeof value === 'string' && value) params.set(key, value);
  return request<WorklistPage>(`/api/worklist?${params.toString()}`);
}

export const fetchStudy = (uid: string): Promise<StudyDetail> => request<StudyDetail>(`/api/worklist/studies/${encodeURIComponent(uid)}`);

/** What POST /api/studies/{uid}/analyze answers: a new analysis, one already under way, or why none applies. */
export interface AnalyzeAnswer {
  readonly kind: 'queued' | 'unchanged' | 'not-applicable';
  readonly jobId: string;
  readonly reason?: string;
}

export const analyzeStudy = (uid: string): Promise<AnalyzeAnswer> =>
  request<AnalyzeAnswer>(`/api/studies/${encodeURIComponent(uid)}/analyze`, { method: 'POST' });

export const retryExport = (jobId: string, destination: string): Promise<unknown> =>
  request(`/api/jobs/${encodeURIComponent(jobId)}/exports/${encodeURIComponent(destination)}/retry`, { method: 'POST' });

export const segmentMip = (png: Blob): Promise<SegmentMipResponse> =>
  request<SegmentMipResponse>('/api/segment-mip', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: png });

/** Whether the server wants a token; throws AuthRequiredError when it does and this browser has none. */
export const fetchSession = (): Promise<{ authRequired: boolean }> => request('/api/session');

/** Checks the token as a bearer token; the server answers with the session cookie. */
export const logIn = (token: string): Promise<{ authRequired: boolean }> =>
  request('/api/session', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });

export const logOut = (): Promise<unknown> => request('/api/session', { method: 'DELETE' });
