import { randomUUID } from 'node:crypto';
import { request } from 'node:http';

export interface StoreSummary {
  readonly stored: number;
  readonly bytes: number;
  /** When the last STOW-RS response arrived (Date.now()). */
  readonly finishedAt: number;
}

function multipart(parts: readonly Buffer[], boundary: string): Buffer[] {
  const chunks = parts.flatMap((p) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n')]);
  return [...chunks, Buffer.from(`--${boundary}--\r\n`)];
}

/**
 * One STOW-RS request on a connection of its own. Not fetch: a caller that generates series synchronously
 * blocks its event loop past the server's keep-alive timeout, and a pooled socket the server has closed
 * meanwhile fails the next POST with EPIPE (fetch does not retry a POST).
 */
function postOnce(url: URL, parts: readonly Buffer[]): Promise<{ status: number; body: string }> {
  const boundary = `synthetic-${randomUUID()}`;
  const chunks = multipart(parts, boundary);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST', agent: false,
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, Accept: 'application/dicom+json',
        'Content-Length': chunks.reduce((n, c) => n + c.length, 0) },
    }, (res) => {
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(body).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** Stores in-memory PS3.10 instances by STOW-RS in batches; throws unless every instance was stored. */
export async function storeInstances(dicomwebUrl: string, instances: readonly Buffer[], batchSize: number): Promise<StoreSummary> {
  const url = new URL(`${dicomwebUrl.replace(/\/$/, '')}/studies`);
  let stored = 0;
  for (let i = 0; i < instances.length; i += batchSize) {
    const batch = instances.slice(i, i + batchSize);
    const { status, body } = await postOnce(url, batch);
    const referenced = (JSON.parse(body || 'null') as Record<string, { Value?: unknown[] }> | null)?.['00081199']?.Value?.length ?? 0;
    if (status !== 200 || referenced !== batch.length) throw new Error(`STOW-RS answered ${status}, ${referenced} of ${batch.length} stored: ${body.slice(0, 500)}`);
    stored += referenced;
  }
  return { stored, bytes: instances.reduce((n, b) => n + b.length, 0), finishedAt: Date.now() };
}
