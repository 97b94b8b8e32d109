import { MipsegError } from '@mipseg/shared/errors';
import type { Archive } from '@mipseg/shared/store';

/** Where a worker stores its results: the archive (embedded) or the gateway by STOW-RS (queue mode). */
export interface ResultSink {
  store(instances: readonly Buffer[]): Promise<void>;
}

export class ArchiveResultSink implements ResultSink {
  constructor(private readonly archive: Archive) {}

  async store(instances: readonly Buffer[]): Promise<void> {
    for (const bytes of instances) {
      const temp = this.archive.blobs.createTemp();
      await new Promise<void>((resolve, reject) => {
        temp.stream.once('error', reject);
        temp.stream.end(bytes, () => resolve());
      });
      const outcome = await this.archive.storeFromTemp(temp.path);
      if (outcome.status === 'failed') throw outcome.error;
    }
  }
}

/** POSTs results to a DICOMweb server and checks every instance was stored (no FailedSOPSequence). */
export async function stowInstances(baseUrl: string, instances: readonly Buffer[], token?: string): Promise<void> {
  const boundary = `mipseg-${Date.now().toString(36)}`;
  const chunks = instances.flatMap((b) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), b, Buffer.from('\r\n')]);
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const headers: Record<string, string> = {
    'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
    Accept: 'application/dicom+json',
  };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/studies`, { method: 'POST', headers, body: Buffer.concat(chunks) });
  } catch (err) {
    throw new MipsegError('MIPSEG_INTERNAL', `STOW-RS to ${baseUrl}: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  if (res.status !== 200 && res.status !== 202) {
    // 4xx from a PACS is a refusal that retrying will not change; 5xx and 429 may pass.
    const code = res.status >= 500 || res.status === 429 ? 'MIPSEG_INTERNAL' : 'MIPSEG_EXPORT_REFUSED';
    throw new MipsegError(code, `STOW-RS to ${baseUrl}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  const body = (text ? JSON.parse(text) : {}) as Record<string, { Value?: unknown[] }>;
  const failed = body['00081198']?.Value?.length ?? 0;
  if (failed > 0) throw new MipsegError('MIPSEG_EXPORT_REFUSED', `STOW-RS to ${baseUrl}: ${failed} instance(s) in FailedSOPSequence`);
}

export class StowResultSink implements ResultSink {
  constructor(private readonly baseUrl: string, private readonly token?: string) {}

  store(instances: readonly Buffer[]): Promise<void> {
    return stowInstances(this.baseUrl, instances, this.token);
  }
}
