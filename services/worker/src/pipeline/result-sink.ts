import { readSopInstanceUid } from '@mipseg/shared/dicom';
import { DicomFailureReason, MipsegError, toStorageError } from '@mipseg/shared/errors';
import { gatewayAwayCause } from '@mipseg/shared/queue';
import type { Archive, StoreOutcome } from '@mipseg/shared/store';
import { bodyExcerpt, deliveredNote, describeInstance, failureReasonWords, lostWhileReading, noAnswer, readResponseBody, shownLocation,
  statusLine, unreachable, type InstanceNames } from './stow-failure';

/** Where a worker stores its results: the archive (embedded) or the gateway by STOW-RS (queue mode). */
export interface ResultSink {
  /** `besideSeries`: the series the results were derived from; they are refused (not found) once it is deleted. */
  store(instances: readonly Buffer[], besideSeries?: string): Promise<void>;
}

export class ArchiveResultSink implements ResultSink {
  constructor(private readonly archive: Archive) {}

  async store(instances: readonly Buffer[], besideSeries?: string): Promise<void> {
    const outcomes: StoreOutcome[] = [];
    for (const bytes of instances) {
      const outcome = await this.storeOne(bytes, besideSeries);
      outcomes.push(outcome);
      if (outcome.status === 'failed') {
        // The gateway does the same for a queue-mode worker's results (STOW-RS with RESULT_HEADER).
        await this.archive.withdrawResult(outcomes);
        throw outcome.error;
      }
    }
  }

  private async storeOne(bytes: Buffer, besideSeries: string | undefined): Promise<StoreOutcome> {
    const temp = this.archive.blobs.createTemp();
    try {
      await new Promise<void>((resolve, reject) => {
        temp.stream.once('error', reject);
        // The callback is also called on an error (ENOSPC), possibly before 'error': a part-written file must not be stored.
        temp.stream.end(bytes, (err?: Error | null) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      // Not left on the disk that just ran out of room, attempt after attempt, until the next start-up's clean-up.
      await this.archive.blobs.discardTemp(temp.path).catch(() => undefined);
      return { status: 'failed', error: toStorageError(err) };
    }
    return this.archive.storeFromTemp(temp.path, { result: true, ...(besideSeries === undefined ? {} : { besideSeries }) });
  }
}

/** PS3.18 STOW-RS response attributes (DICOM JSON keys). */
const Tag = {
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPInstanceUID: '00081155',
  FailureReason: '00081197',
  WarningReason: '00081196',
} as const;

type DicomJsonItem = Readonly<Record<string, { readonly Value?: readonly unknown[] } | undefined>>;

interface FailedInstance {
  readonly sopInstanceUid: string;
  readonly failureReason: number | undefined;
}

/** What a destination said about the instances of one request. */
interface StowResponse {
  readonly referenced: ReadonlySet<string>;
  readonly failed: readonly FailedInstance[];
  /** Instances stored with a WarningReason (PS3.18 10.5.3: coerced, elements discarded, …), as "uid WarningReason 0xB000". */
  readonly warned: readonly string[];
}

/** What a destination confirmed: every instance stored; those stored with a warning, in words. */
export interface StowOutcome {
  readonly warnings: readonly string[];
}

function sequenceItems(body: DicomJsonItem, tag: string): DicomJsonItem[] {
  const values = body[tag]?.Value ?? [];
  return values.filter((v): v is DicomJsonItem => typeof v === 'object' && v !== null && !Array.isArray(v));
}

function firstValue(item: DicomJsonItem, tag: string): unknown {
  return item[tag]?.Value?.[0];
}

function referencedUid(item: DicomJsonItem): string {
  const uid = firstValue(item, Tag.ReferencedSOPInstanceUID);
  return typeof uid === 'string' ? uid : '?';
}

/** A US value is a JSON number; a string of digits is taken too, as lenient readers do. */
function failureReason(value: unknown): number | undefined {
  const n = typeof value === 'number' || typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && value !== '' ? n : undefined;
}

/**
 * The body as a STOW-RS response object, or undefined where it is none: empty, not JSON (we ask for DICOM
 * JSON, yet a PACS may answer XML or an error page), JSON `null`, or an array (a QIDO answer after a redirect).
 */
function parseStowResponse(text: string): StowResponse | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const body = parsed as DicomJsonItem;
  const referencedItems = sequenceItems(body, Tag.ReferencedSOPSequence);
  const referenced = new Set(referencedItems.map(referencedUid));
  const failed = sequenceItems(body, Tag.FailedSOPSequence).map((i) => ({
    sopInstanceUid: referencedUid(i),
    failureReason: failureReason(firstValue(i, Tag.FailureReason)),
  }));
  const warned = referencedItems.flatMap((i) => {
    const reason = failureReason(firstValue(i, Tag.WarningReason));
    return reason === undefined ? [] : [`${referencedUid(i)} WarningReason 0x${reason.toString(16).toUpperCase()}`];
  });
  return { referenced, failed, warned };
}

/** 0xA7xx, out of resources: the destination may take the instance later (conformance: retry with backoff). */
function isOutOfResources(reason: number | undefined): boolean {
  return reason !== undefined && (reason & 0xff00) === 0xa700;
}

/** "SEG 2.25.… FailureReason 0xC000, cannot understand; …" */
function describeFailures(failed: readonly FailedInstance[], names: InstanceNames | undefined): string {
  return failed.map((f) => {
    const reason = f.failureReason === undefined ? 'FailureReason missing'
      : `FailureReason 0x${f.failureReason.toString(16).toUpperCase()}${failureReasonWords(f.failureReason) ? `, ${failureReasonWords(f.failureReason)}` : ''}`;
    return `${describeInstance(f.sopInstanceUid, names)} ${reason}`;
  }).join('; ');
}

/** What one request's answer is checked against, and named in its failures. */
interface StowRequest {
  readonly baseUrl: string;
  readonly sopInstanceUids: readonly string[];
  readonly names: InstanceNames | undefined;
}

/**
 * Failed items decide first: any reason other than A7xx is a refusal that a retry will not change; only A7xx
 * ones mean "later". Otherwise every instance sent must be referenced: success is what the destination
 * confirms, not the absence of a FailedSOPSequence. Each failure says which of the others were stored.
 */
function checkStowResponse(request: StowRequest, res: Response, response: StowResponse): void {
  const answered = `${request.baseUrl} answered ${statusLine(res)}`;
  const delivered = deliveredNote(request.sopInstanceUids, response.referenced, request.names);
  const refused = response.failed.filter((f) => !isOutOfResources(f.failureReason));
  if (refused.length > 0) throw new MipsegError('MIPSEG_EXPORT_REFUSED', `${answered}: ${describeFailures(refused, request.names)}${delivered}`);
  if (response.failed.length > 0) {
    throw new MipsegError('MIPSEG_STORAGE_FULL', `${answered}: ${describeFailures(response.failed, request.names)}${delivered}`);
  }
  const missing = request.sopInstanceUids.filter((uid) => !response.referenced.has(uid));
  if (missing.length > 0) {
    throw new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', `${answered} without confirming ${missing.length} of ${request.sopInstanceUids.length} `
      + `instance(s), missing from ReferencedSOPSequence: ${missing.map((uid) => describeInstance(uid, request.names)).join(', ')}${delivered}`);
  }
}

/**
 * A status outside 2xx. A redirect is never followed: fetch would re-send the POST as a bodiless GET. `response` is
 * the body as read, with duplicates of an earlier send already counted as stored where they may be.
 */
function refuseStatus(request: StowRequest, res: Response, text: string, hasToken: boolean, response: StowResponse | undefined): MipsegError {
  const answered = `${request.baseUrl} answered ${statusLine(res)}`;
  if (res.status >= 300 && res.status < 400) {
    return new MipsegError('MIPSEG_EXPORT_REFUSED', `${answered}, a redirect to ${shownLocation(res.headers.get('location'), request.baseUrl)}, `
      + 'which is not followed: configure the final URL as the destination');
  }
  if (res.status === 401 || res.status === 403) {
    return new MipsegError('MIPSEG_EXPORT_REFUSED', `${answered}: authentication failed `
      + `(${hasToken ? 'the bearer token was not accepted' : 'no bearer token is configured'})`);
  }
  const failures = response && response.failed.length > 0
    ? `${describeFailures(response.failed, request.names)}${deliveredNote(request.sopInstanceUids, response.referenced, request.names)}` : undefined;
  if (response && failures && response.failed.every((f) => isOutOfResources(f.failureReason))) {
    return new MipsegError('MIPSEG_STORAGE_FULL', `${answered}: ${failures}`);
  }
  // Other 4xx from a PACS are refusals that retrying will not change; 5xx, 429 and 408 (timed out) may pass.
  const code = res.status >= 500 || res.status === 429 || res.status === 408 ? 'MIPSEG_DESTINATION_UNAVAILABLE' : 'MIPSEG_EXPORT_REFUSED';
  const said = failures ?? bodyExcerpt(text, res.headers.get('content-type'));
  return new MipsegError(code, `${answered}${said ? `: ${said}` : ''}`);
}

function multipartBody(instances: readonly Buffer[], boundary: string): Buffer<ArrayBuffer> {
  const chunks = instances.flatMap((b) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), b, Buffer.from('\r\n')]);
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/**
 * Longest a STOW-RS request may take, upload to last byte of the answer: a result is a MIP and a SEG of well under
 * a few megabytes. Without it a destination that takes the POST and never answers holds each attempt (and one of
 * its two export slots) for node's own 5-minute bounds, and a result shows failed only after EXPORT_ATTEMPTS of them.
 */
export const STOW_TIMEOUT_MS = 120_000;

/** What fetch throws once `signal` has timed out, in whatever part of the exchange. */
function timedOut(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError';
}

async function postInstances(baseUrl: string, instances: readonly Buffer[], token: string | undefined,
  timeoutMs: number, options: StowOptions): Promise<{ res: Response; signal: AbortSignal }> {
  const signal = AbortSignal.timeout(timeoutMs);
  const boundary = `mipseg-${Date.now().toString(36)}`;
  const headers: Record<string, string> = {
    'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
    Accept: 'application/dicom+json',
  };
  if (token) headers['Authorization'] = `Bearer ${token}`;
  if (options.ownResults === true) {
    headers[RESULT_HEADER] = 'true';
    if (options.besideSeries !== undefined) headers[BESIDE_SERIES_HEADER] = options.besideSeries;
  }
  try {
    return { res: await fetch(`${baseUrl}/studies`, { method: 'POST', headers, body: multipartBody(instances, boundary), redirect: 'manual', signal }), signal };
  } catch (err) {
    if (timedOut(signal)) throw noAnswer(baseUrl, timeoutMs, undefined, err);
    throw unreachable(baseUrl, err);
  }
}

/** The response with "duplicate" failures counted as referenced: the destination holds those instances. */
function withDuplicatesAsStored(response: StowResponse): StowResponse {
  const duplicates = response.failed.filter((f) => f.failureReason === DicomFailureReason.DuplicateSopInstance);
  return {
    referenced: new Set([...response.referenced, ...duplicates.map((f) => f.sopInstanceUid)]),
    failed: response.failed.filter((f) => f.failureReason !== DicomFailureReason.DuplicateSopInstance),
    warned: response.warned,
  };
}

export interface StowOptions {
  /**
   * Instances whose UIDs the sender made itself, which an earlier send (of any attempt) may have stored: a
   * FailureReason 0x0111 "duplicate" then means the destination holds the instance, and counts as stored.
   */
  readonly duplicatesAreStored?: boolean;
  /** Longest the request may take (STOW_TIMEOUT_MS); shorter in tests. */
  readonly timeoutMs?: number;
  /**
   * The instances are mipseg's own results, sent to its own gateway (RESULT_HEADER): stored there below
   * MIN_FREE_DISK_BYTES too. Never for an export: another archive does not know the header.
   */
  readonly ownResults?: boolean;
  /** With ownResults: the series they were derived from (BESIDE_SERIES_HEADER), checked by the gateway as it stores. */
  readonly besideSeries?: string;
  /** What failures call the instances ("MIP", "SEG" by SOP Instance UID); by their UIDs alone without. */
  readonly names?: InstanceNames;
}

/**
 * The request header by which a queue-mode worker tells its gateway that a STOW-RS request holds its results, which
 * pass the free-space floor as they do embedded (Archive StoreOptions.result): a few hundred kilobytes that the
 * analysis would otherwise be run again for, and fail for good.
 */
export const RESULT_HEADER = 'Mipseg-Results';
/** Names the series results were derived from: the gateway stores them only while it is stored (StoreOptions.besideSeries). */
export const BESIDE_SERIES_HEADER = 'Mipseg-Beside-Series';

/**
 * POSTs instances to a DICOMweb server and resolves only when the response references every one of them.
 * Throws MIPSEG_EXPORT_REFUSED where a retry cannot help (4xx, 3xx, a FailedSOPSequence reason other than A7xx),
 * MIPSEG_STORAGE_FULL for A7xx, MIPSEG_DESTINATION_UNAVAILABLE for what may pass (network, 5xx, 429, 408, an
 * unconfirmed answer).
 */
export async function stowInstances(baseUrl: string, instances: readonly Buffer[], token?: string, options: StowOptions = {}): Promise<StowOutcome> {
  const request: StowRequest = { baseUrl, sopInstanceUids: instances.map((b) => readSopInstanceUid(b)), names: options.names };
  const timeoutMs = options.timeoutMs ?? STOW_TIMEOUT_MS;
  const { res, signal } = await postInstances(baseUrl, instances, token, timeoutMs, options);
  let text: string;
  try {
    text = await readResponseBody(res);
  } catch (err) {
    if (timedOut(signal)) throw noAnswer(baseUrl, timeoutMs, res, err);
    throw lostWhileReading(baseUrl, res, err);
  }
  const parsed = parseStowResponse(text);
  const response = parsed && options.duplicatesAreStored ? withDuplicatesAsStored(parsed) : parsed;
  // A 409 whose every failure was a duplicate of a re-send is then a success like any other.
  const allDuplicates = res.status === 409 && response !== undefined && parsed !== undefined && parsed.failed.length > 0 && response.failed.length === 0;
  if ((res.status < 200 || res.status >= 300) && !allDuplicates) {
    const refused = refuseStatus(request, res, text, Boolean(token), response);
    // Our own gateway (or its proxy) saying it is away: the queue waits for it as for a refused connection, using no
    // attempt. Not for an export: a PACS answering 503 is a destination's failure, retried as such.
    throw options.ownResults === true && refused.code === 'MIPSEG_DESTINATION_UNAVAILABLE'
      ? new MipsegError(refused.code, refused.detail, gatewayAwayCause(res.status)) : refused;
  }
  if (!response) {
    const excerpt = bodyExcerpt(text, res.headers.get('content-type'));
    throw new MipsegError('MIPSEG_DESTINATION_UNAVAILABLE', `${baseUrl} answered ${statusLine(res)}, but not with a DICOM JSON STOW-RS `
      + `response (Content-Type ${res.headers.get('content-type') ?? '(none)'}${excerpt ? `: ${JSON.stringify(excerpt.slice(0, 100))}` : ', no body'}), `
      + 'so no instance is confirmed stored');
  }
  checkStowResponse(request, res, response);
  return { warnings: response.warned };
}

export class StowResultSink implements ResultSink {
  constructor(private readonly baseUrl: string, private readonly token?: string) {}

  async store(instances: readonly Buffer[], besideSeries?: string): Promise<void> {
    // Not the exports' 120 s: the gateway may hold the store behind a large study's, and a store given up after the
    // gateway took it would be retried as a second result version. Node's own 5-minute bounds apply, as before.
    await stowInstances(this.baseUrl, instances, this.token,
      { timeoutMs: RESULT_STORE_TIMEOUT_MS, ownResults: true, ...(besideSeries === undefined ? {} : { besideSeries }) });
  }
}

/** Longest a queue-mode worker waits on the gateway storing its MIP and SEG (longer than node's own bounds). */
const RESULT_STORE_TIMEOUT_MS = 600_000;
