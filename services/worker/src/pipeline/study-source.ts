import type { Archive, StoredInstance } from '@mipseg/shared/store';
import { readMultipartBody } from '@mipseg/shared/dicomweb';
import { readSopInstanceUid } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { GatewayUnavailableError, gatewayAwayCause } from '@mipseg/shared/queue';

/**
 * Whether an error answer is the gateway's own ({"code":"MIPSEG_…"}). It answers a search with no match 200 or 204,
 * never 404, so a 404 to one is either a proxy in front of it with no route to it while it restarts (as away as a 502)
 * or, with the gateway's own body, a path it does not serve: a GATEWAY_URL that is wrong, which waiting cannot mend.
 */
function isMipsegErrorBody(text: string): boolean {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' && body !== null && String((body as { code?: unknown }).code).startsWith('MIPSEG_');
  } catch {
    return false;
  }
}

/** Where a worker reads a series' instances: the archive itself (embedded) or the gateway (queue mode). */
export interface StudySource {
  readSeries(studyInstanceUid: string, seriesInstanceUid: string, sopInstanceUids?: readonly string[]): Promise<Buffer[]>;
  /**
   * The series as local files, where the source has them: an analysis thread then reads them itself and the
   * main thread, which every analysis shares, stays free. Undefined where the bytes must come through here.
   */
  seriesFiles?(studyInstanceUid: string, seriesInstanceUid: string, sopInstanceUids?: readonly string[]): string[] | undefined;
  /** Whether the series is still stored in that study: asked before results are stored beside it. */
  hasSeries(studyInstanceUid: string, seriesInstanceUid: string): Promise<boolean>;
}

export class ArchiveStudySource implements StudySource {
  constructor(private readonly archive: Archive) {}

  async readSeries(studyUid: string, seriesUid: string, sopInstanceUids?: readonly string[]): Promise<Buffer[]> {
    const instances = this.listSeries(studyUid, seriesUid, sopInstanceUids);
    return Promise.all(instances.map((i) => this.archive.blobs.read(i.storageKey)));
  }

  hasSeries(studyUid: string, seriesUid: string): Promise<boolean> {
    return Promise.resolve(this.archive.index.findSeriesStudy(seriesUid) === studyUid);
  }

  seriesFiles(studyUid: string, seriesUid: string, sopInstanceUids?: readonly string[]): string[] | undefined {
    const paths = this.listSeries(studyUid, seriesUid, sopInstanceUids).map((i) => this.archive.blobs.localPath(i.storageKey));
    return paths.every((p): p is string => p !== undefined) ? paths : undefined;
  }

  private listSeries(studyUid: string, seriesUid: string, sopInstanceUids?: readonly string[]): StoredInstance[] {
    const wanted = sopInstanceUids ? new Set(sopInstanceUids) : undefined;
    const instances = this.archive.index.listInstances({ studyUid, seriesUid }).filter((i) => !wanted || wanted.has(i.sopInstanceUid));
    if (wanted && instances.length !== wanted.size) {
      throw new MipsegError('MIPSEG_NOT_FOUND', `${wanted.size - instances.length} instance(s) of series ${seriesUid}`);
    }
    return instances;
  }
}

/** Reads through WADO-RS, so that workers on other machines need only the gateway's URL (and token). */
export class DicomwebStudySource implements StudySource {
  constructor(private readonly baseUrl: string, private readonly token?: string) {}

  /** Request headers: what the gateway should answer with, and the token where there is one. */
  private headers(accept: string): Record<string, string> {
    return this.token ? { Accept: accept, Authorization: `Bearer ${this.token}` } : { Accept: accept };
  }

  async hasSeries(studyUid: string, seriesUid: string): Promise<boolean> {
    const res = await fetch(`${this.baseUrl}/studies/${studyUid}/series?SeriesInstanceUID=${seriesUid}&includefield=0020000E`,
      { headers: this.headers('application/dicom+json') });
    if (!res.ok) {
      throw new MipsegError('MIPSEG_INTERNAL', `QIDO-RS series ${seriesUid}: HTTP ${res.status}`,
        res.status === 404 && !isMipsegErrorBody(await res.text()) ? { cause: new GatewayUnavailableError(404) } : gatewayAwayCause(res.status));
    }
    const text = await res.text();
    return text.trim() !== '' && (JSON.parse(text) as unknown[]).length > 0;
  }

  /**
   * A retrieve's failure. A 404 is MIPSEG_NOT_FOUND, which fails the analysis for good, only where the gateway's own
   * search confirms the series is gone: a reverse proxy answers 404 while the gateway behind it restarts, and each
   * analysis reading its series then would fail for good, and its study never be analysed. Else it is retried: where
   * the status says the gateway is away (502, 503, 504), as it waits for an unreachable one, using no attempt.
   */
  private async retrieveFailure(status: number, studyUid: string, seriesUid: string): Promise<MipsegError> {
    const said = `WADO-RS series ${seriesUid}: HTTP ${status}`;
    if (status !== 404) return new MipsegError('MIPSEG_INTERNAL', said, gatewayAwayCause(status));
    if (!(await this.hasSeries(studyUid, seriesUid))) return new MipsegError('MIPSEG_NOT_FOUND', said);
    return new MipsegError('MIPSEG_INTERNAL', `${said}, though its search still lists it (a proxy while the gateway restarts?)`);
  }

  async readSeries(studyUid: string, seriesUid: string, sopInstanceUids?: readonly string[]): Promise<Buffer[]> {
    const res = await fetch(`${this.baseUrl}/studies/${studyUid}/series/${seriesUid}`,
      { headers: this.headers('multipart/related; type="application/dicom"; transfer-syntax=*') });
    if (!res.ok) throw await this.retrieveFailure(res.status, studyUid, seriesUid);
    const parts = await readMultipartBody(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
    if (!sopInstanceUids) return parts;
    const wanted = new Set(sopInstanceUids);
    const found = parts.filter((p) => wanted.has(readSopInstanceUid(p)));
    // As ArchiveStudySource: an instance asked for and not returned is missing, never silently left out.
    if (found.length !== wanted.size) {
      throw new MipsegError('MIPSEG_NOT_FOUND', `${wanted.size - found.length} of ${wanted.size} instance(s) of series ${seriesUid}`);
    }
    return found;
  }
}
