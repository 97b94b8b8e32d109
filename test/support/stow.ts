import { randomUUID } from 'node:crypto';

export interface StowReply {
  readonly status: number;
  readonly body: Record<string, { vr: string; Value?: Array<Record<string, { vr: string; Value?: unknown[] }>> }> | null;
  readonly warning: string | null;
}

export interface StowOptions {
  boundary?: string; contentType?: string; partContentType?: string; headers?: Record<string, string>;
}

/** Posts parts as multipart/related to a STOW-RS URL; the raw response, for tests of its media type. */
export function fetchStow(url: string, parts: readonly Buffer[], options: StowOptions = {}): Promise<Response> {
  const boundary = options.boundary ?? `b-${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${options.partContentType ?? 'application/dicom'}\r\n\r\n`), p, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': options.contentType ?? `multipart/related; type="application/dicom"; boundary="${boundary}"`,
      ...options.headers,
    },
    body: Buffer.concat(chunks),
  });
}

/** Posts parts as multipart/related to a STOW-RS URL, with full control of headers (for bad-input tests). */
export async function postStow(url: string, parts: readonly Buffer[], options: StowOptions = {}): Promise<StowReply> {
  const res = await fetchStow(url, parts, options);
  const text = await res.text();
  let body: StowReply['body'];
  try {
    body = text ? (JSON.parse(text) as StowReply['body']) : null;
  } catch {
    body = null;
  }
  return { status: res.status, body, warning: res.headers.get('warning') };
}

/** FailureReason values of a STOW response's FailedSOPSequence. */
export function failureReasons(reply: StowReply): number[] {
  return (reply.body?.['00081198']?.Value ?? []).map((item) => Number(item['00081197']?.Value?.[0]));
}
