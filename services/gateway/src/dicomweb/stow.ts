import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { fdatasync, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';
import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { assertUid, fileMetaUids, readSopInstanceUid, type DicomJson } from '@mipseg/shared/dicom';
import { DicomFailureReason, MipsegError, toMipsegError, toStorageError } from '@mipseg/shared/errors';
import {
  HEADER_PROBE_BYTES, RESULT_MAX_BYTES, StudiesArriving, type Archive, type ReceivingFloorCheck, type StoreOptions,
  type StoreOutcome,
} from '@mipseg/shared/store';
import { attribute, sequence, Tag } from './dicom-json-builder';
import { negotiate, parseMediaType, toNativeDicomModelXml } from '@mipseg/shared/dicomweb';
import { readMultipart, type MultipartLimits, type PartHeaders, type PartSink } from '@mipseg/shared/dicomweb';
import { clientMessage } from '../client-message';
import type { ArrivalRefusals } from '../metrics';
import { requestLogFields } from '../request-log';
import { senderGoneError } from '../sender-gone';
import { dicomwebBase, instanceUrl, studyUrl } from './urls';
import { warningHeaderValue } from './warning-header';

type PartResult = StoreOutcome;

/** Parts of one request being synced and stored at once (bounds open files and memory). */
const IN_FLIGHT = 16;

function failed(error: MipsegError): PartResult {
  return { status: 'failed', error };
}

/** The SOP Instance UID a part's first bytes give, where they give a valid one. */
function sopInstanceUidOf(head: Buffer): string | undefined {
  try {
    return readSopInstanceUid(head);
  } catch {
    return undefined; // refused in full by the archive, which parses it
  }
}

/** A part refused before it was parsed (over MAX_INSTANCE_BYTES, or unwritable), named by its File Meta's UIDs. */
function failedPart(error: MipsegError, head: Buffer): PartResult {
  return { status: 'failed', error, ...fileMetaUids(head) };
}

/**
 * Resolves when `stream` can take more, rejects with its error. The stream's errors are also caught by the
 * listener its part keeps for life (see partSink): a failed write calls its callback before the stream emits
 * 'error', so a listener added per write and removed in that callback leaves the emit unheard, which kills the
 * process (ENOSPC did).
 */
async function writeChunk(stream: WriteStream, chunk: Buffer): Promise<void> {
  if (stream.errored) throw stream.errored;
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** Runs `op` with a callback and settles with it; an errored stream rejects with its own error (ENOSPC), not a later one. */
function streamStep(stream: WriteStream, op: (done: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    op((err) => {
      const failure = stream.errored ?? err;
      if (failure) reject(failure);
      else resolve();
    });
  });
}

/**
 * Flushes the stream, fdatasyncs its descriptor (the data is durable before the rename), then closes. Rejects
 * when any write failed, also one that failed after writeChunk had resolved (the last chunks are buffered). A failed
 * fdatasync (EIO; ENOSPC or EDQUOT where NFS reports them only there) is no stream error, so nothing would close the
 * descriptor: the removed temp file would keep its disk space until a restart.
 */
async function syncAndClose(stream: WriteStream): Promise<void> {
  try {
    await streamStep(stream, (done) => stream.write(Buffer.alloc(0), done));
    const fd = (stream as WriteStream & { fd: number | null }).fd;
    if (fd !== null) await promisify(fdatasync)(fd);
    await streamStep(stream, (done) => stream.end(done));
  } catch (err) {
    await destroyStream(stream);
    throw err;
  }
}

/** Destroys a part's stream and waits until its descriptor is closed, so that the temp file is not recreated after removal. */
async function destroyStream(stream: WriteStream): Promise<void> {
  if (stream.closed) return;
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  stream.destroy();
  await closed;
}

/** What the parts of one STOW-RS request share. */
interface StowRequest {
  readonly archive: Archive;
  readonly config: Config;
  readonly log: Logger;
  readonly store: Pick<StoreOptions, 'expectedStudyUid' | 'result'>;
  /** Each part's outcome, in part order. */
  readonly results: Promise<PartResult>[];
  /** The latest part of each SOP Instance UID (copies in one request are stored in part order). */
  readonly bySopInstanceUid: Map<string, Promise<PartResult>>;
  readonly arriving: StudiesArriving;
}

/** A part's sink: a temp file, handed to the archive as soon as the part's closing boundary arrives. */
function partSink(request: StowRequest, headers: PartHeaders): PartSink {
  const { archive, config, log, store, results, bySopInstanceUid, arriving } = request;
  const partType = headers['content-type'] ? parseMediaType(headers['content-type']).type : 'application/dicom';
  if (partType !== 'application/dicom') {
    const wrongType = new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `part Content-Type ${partType}`);
    if (store.result !== true) (archive as ArrivalRefusals).refusedWhileArriving?.(wrongType, 0);
    results.push(Promise.resolve(failed(wrongType)));
    const ignore = () => Promise.resolve();
    return { write: ignore, end: ignore, abort: ignore };
  }
  const temp = archive.blobs.createTemp();
  // Made once the head is in: a re-send of a stored instance, named there, is answered "stored" below the floor too.
  // mipseg's own results are small, and may be stored below it (the archive decides once it can read them): a part of
  // a request saying so is held to it past a result's size.
  let floorCheck: ReceivingFloorCheck | undefined;
  // Hash and keep the head while the part streams in, so that ingest need not read the file again.
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headBytes = 0;
  let size = 0;
  let problem: MipsegError | undefined;
  // For the stream's whole life: an 'error' with no listener would be thrown, and the process would die with it.
  temp.stream.on('error', (err) => {
    problem ??= toStorageError(err);
  });
  return {
    write: async (chunk) => {
      if (problem) return;
      // The head first: a part refused for its size is still named by the UIDs in it (see failedPart).
      if (headBytes < HEADER_PROBE_BYTES) {
        head.push(Buffer.from(chunk.subarray(0, HEADER_PROBE_BYTES - headBytes)));
        headBytes += Math.min(chunk.length, HEADER_PROBE_BYTES - headBytes);
      }
      size += chunk.length;
      if (size > config.maxInstanceBytes) {
        // Over a configured size, like the request limits (413), not a fault of ours (FailureReason 0xC412, as by C-STORE).
        problem = new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `instance over MAX_INSTANCE_BYTES (${config.maxInstanceBytes})`);
        return;
      }
      if (headBytes >= HEADER_PROBE_BYTES && (store.result !== true || size > RESULT_MAX_BYTES)) {
        floorCheck ??= archive.receivingFloorCheck(sopInstanceUidOf(Buffer.concat(head)));
      }
      await floorCheck?.(size)?.catch((err: unknown) => {
        problem ??= toMipsegError(err);
      });
      if (problem) return;
      hash.update(chunk);
      await writeChunk(temp.stream, chunk).catch((err: unknown) => {
        problem ??= toStorageError(err);
      });
    },
    end: async () => {
      // The part is whole: a shutdown waits for it from here (Archive.settle), through the parts ahead of it, its
      // fdatasync and its store, though its connection may be cut meanwhile.
      let finished: () => void = () => undefined;
      void archive.track(new Promise<void>((resolve) => (finished = resolve)));
      // Flush, fdatasync and store off the parse loop: the next part streams in while this one syncs, so the
      // fsyncs of one request overlap instead of queueing one behind the other (at most IN_FLIGHT at once).
      const behind = results[results.length - IN_FLIGHT];
      let headBytesRead: Buffer;
      let uid: string | undefined;
      try {
        if (behind) await behind;
        headBytesRead = Buffer.concat(head);
        // Two copies of one instance in a request are stored in part order, so the later one is the copy kept, as
        // for copies sent one request after another; parts run side by side and would otherwise finish in any order.
        uid = problem ? undefined : sopInstanceUidOf(headBytesRead);
      } catch (err) {
        // The reader has let go of this part: its file is removed here, or it would stay in tmp/ until a restart.
        await destroyStream(temp.stream);
        await archive.blobs.discardTemp(temp.path).catch(() => undefined);
        finished();
        throw err;
      }
      const earlier = uid === undefined ? undefined : bySopInstanceUid.get(uid);
      const place = results.length;
      // Never a rejection (its temp file not removed, say): the part is answered failed, and the parts behind it go on.
      const stored = (async (): Promise<PartResult> => {
        await syncAndClose(temp.stream).catch((err: unknown) => {
          problem ??= toStorageError(err);
        });
        if (problem) {
          // Refused as it arrived: /metrics counts it here, the archive never having seen it.
          if (store.result !== true) (archive as ArrivalRefusals).refusedWhileArriving?.(problem, size);
          await archive.blobs.discardTemp(temp.path);
          return failedPart(problem, headBytesRead);
        }
        if (earlier) await earlier;
        const file = { path: temp.path, size, sha256: hash.digest('hex'), head: headBytesRead, dataSynced: true };
        const outcome = await archive.storeReceived(file, { ...store, deferDirSync: true });
        if (outcome.status === 'stored') arriving.stored(outcome.header.studyInstanceUid, place);
        return outcome;
      })().catch((err: unknown) => {
        // The part's own problem is what the client hears; what then failed too (its temp file not removed) is logged.
        if (problem) log.warn({ err, code: problem.code }, 'a failed part\'s temporary file could not be removed');
        return failedPart(problem ?? toMipsegError(err), headBytesRead);
      });
      void stored.finally(finished).catch(() => undefined);
      results.push(stored);
      if (uid !== undefined) bySopInstanceUid.set(uid, stored);
    },
    abort: async () => {
      await destroyStream(temp.stream);
      await archive.blobs.discardTemp(temp.path);
    },
  };
}

/**
 * WarningReason of an instance stored in place of a different copy of its SOP Instance UID. mipseg's own code
 * (PS3.18 Table I.2-1 lets a server add codes): B000 "coercion" would say that mipseg changed what was sent, which it
 * did not. A client that reads only the body learns of the replacement too, not only one that reads the Warning header.
 */
export const REPLACED_EARLIER_COPY = 0xb410;

function referencedItem(o: Extract<PartResult, { status: 'stored' | 'unchanged' }>, base: string): DicomJson {
  const h = o.header;
  return {
    [Tag.ReferencedSOPClassUID]: attribute('UI', h.sopClassUid),
    [Tag.ReferencedSOPInstanceUID]: attribute('UI', h.sopInstanceUid),
    [Tag.RetrieveURL]: attribute('UR', instanceUrl(base, h.studyInstanceUid, h.seriesInstanceUid, h.sopInstanceUid)),
    ...(o.replaced ? { [Tag.WarningReason]: attribute('US', REPLACED_EARLIER_COPY) } : {}),
  };
}

function failedItem(o: Extract<PartResult, { status: 'failed' }>): DicomJson {
  return {
    [Tag.ReferencedSOPClassUID]: attribute('UI', o.sopClassUid),
    [Tag.ReferencedSOPInstanceUID]: attribute('UI', o.sopInstanceUid),
    [Tag.FailureReason]: attribute('US', o.error.failureReason ?? DicomFailureReason.ProcessingFailure),
  };
}

/**
 * PS3.18 §10.5.3: 200 all stored; 202 partly/with warnings; 409 conflicts only; 413 only instances over
 * MAX_INSTANCE_BYTES (the conformance notes: 413 over the configured size; such a request is not malformed);
 * 507 out of storage; 500 (503) when any failure was the server's; else 400.
 */
function responseStatus(results: PartResult[]): number {
  const failures = results.filter((r): r is Extract<PartResult, { status: 'failed' }> => r.status === 'failed');
  const replaced = results.some((r) => r.status === 'stored' && r.replaced);
  if (failures.length === 0) return replaced ? 202 : 200;
  if (failures.length < results.length) return 202;
  if (failures.every((f) => f.error.httpStatus === 409)) return 409;
  if (failures.every((f) => f.error.code === 'MIPSEG_PAYLOAD_TOO_LARGE')) return 413;
  if (failures.some((f) => f.error.code === 'MIPSEG_STORAGE_FULL')) return 507;
  // A fault of ours (an I/O error, say) is not a malformed request: a client, mipseg's own exporter among them,
  // gives up on a 4xx but tries a 5xx again.
  const ours = failures.filter((f) => f.error.httpStatus >= 500);
  if (ours.length > 0) return ours.some((f) => f.error.httpStatus === 503) ? 503 : 500;
  return 400;
}

export function buildStowResponse(results: PartResult[], base: string, study: string | undefined): DicomJson {
  const ok = results.filter((r): r is Extract<PartResult, { status: 'stored' | 'unchanged' }> => r.status !== 'failed');
  const bad = results.filter((r): r is Extract<PartResult, { status: 'failed' }> => r.status === 'failed');
  const studies = new Set(ok.map((r) => r.header.studyInstanceUid));
  const onlyStudy = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  const body: DicomJson = { [Tag.RetrieveURL]: attribute('UR', onlyStudy ? studyUrl(base, onlyStudy) : null) };
  // Both sequences are Type 1C (PS3.18 Table I.1-1): each only when it has an item.
  if (ok.length) body[Tag.ReferencedSOPSequence] = sequence(ok.map((r) => referencedItem(r, base)));
  if (bad.length) body[Tag.FailedSOPSequence] = sequence(bad.map(failedItem));
  return body;
}

/** Most Warning values in one response: the parts past them are still in the sequences. */
const MAX_WARNINGS = 50;

/**
 * Most bytes of Warning values in one response. Node's HTTP clients (fetch, dicomweb-client on Node) refuse a
 * response whose headers pass 16 KiB, as some proxies do at 8 KiB: fifty long reasons came near that, and the
 * client would have read no answer at all, not even which instances were stored.
 */
const MAX_WARNING_BYTES = 6 * 1024;

/**
 * FailureReason codes say little to a person: the Warning header carries each failure's reason in words
 * (PS3.18 has no text field in FailedSOPSequence), notes replaced duplicates and, first, where a request was
 * cut short: the parts after the cut were never read, so no sequence can list them. `describe` gives an error's
 * text as a client may see it.
 */
function stowWarnings(results: PartResult[], cut: MipsegError | undefined, describe: (error: MipsegError) => string): string[] {
  const warnings = cut ? [`request cut short, ${cut.code}: ${describe(cut)}; the ${results.length} parts before the cut are `
    + 'listed; any part after them was not read (or not read whole) and is not stored'] : [];
  for (const [part, r] of results.entries()) {
    if (r.status === 'failed') warnings.push(`part ${part + 1}${r.sopInstanceUid ? ` (${r.sopInstanceUid})` : ''}: ${describe(r.error)}`);
    else if (r.status === 'stored' && r.replaced) warnings.push(`${r.header.sopInstanceUid} replaced an earlier copy, kept under retired/`);
  }
  return withinWarningLimits(warnings.map(warningHeaderValue));
}

/** The first values that fit MAX_WARNINGS and MAX_WARNING_BYTES, then one that says how many more the body lists. */
function withinWarningLimits(values: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const value of values) {
    // Room is left for the closing value (under 100 bytes).
    if (kept.length === MAX_WARNINGS - 1 || bytes + value.length + 100 > MAX_WARNING_BYTES) break;
    kept.push(value);
    bytes += value.length;
  }
  const left = values.length - kept.length;
  if (left > 0) kept.push(warningHeaderValue(`${left} more failure(s) or note(s): see FailedSOPSequence and ReferencedSOPSequence`));
  return kept;
}

/** What the STOW response body can be written as, in our order of preference (PS3.18 10.5.3). */
const STOW_RESPONSE_TYPES = ['application/dicom+json', 'application/json', 'application/dicom+xml'] as const;
type StowResponseType = 'application/dicom+json' | 'application/dicom+xml';

function stowResponseType(accept: string | undefined): StowResponseType {
  // application/json, as WADO metadata takes it, gets the DICOM JSON it has always had.
  return negotiate(accept, STOW_RESPONSE_TYPES).offer === 'application/dicom+xml' ? 'application/dicom+xml' : 'application/dicom+json';
}

function writeStowResponse(body: DicomJson, type: StowResponseType): string {
  return type === 'application/dicom+xml' ? toNativeDicomModelXml(body) : JSON.stringify(body);
}

/**
 * Refuses what cannot succeed before a byte of the body is read, so nothing is stored for it: a wrong media
 * type or boundary, a declared length over the limit, and an Accept we cannot answer (a 406 after storing would
 * tell the client that nothing was stored).
 */
function checkRequest(req: Request, config: Config): { boundary: string; responseType: StowResponseType } {
  const contentType = req.get('content-type');
  if (!contentType) throw new MipsegError('MIPSEG_UNSUPPORTED_MEDIA_TYPE', 'no Content-Type');
  const mt = parseMediaType(contentType);
  if (mt.type !== 'multipart/related') throw new MipsegError('MIPSEG_UNSUPPORTED_MEDIA_TYPE', mt.type);
  const partType = mt.params['type']?.toLowerCase();
  if (partType !== undefined && partType !== 'application/dicom') {
    throw new MipsegError('MIPSEG_UNSUPPORTED_MEDIA_TYPE', `multipart/related; type=${partType} (only application/dicom)`);
  }
  const boundary = mt.params['boundary'];
  if (!boundary || boundary.length > 70) throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', 'missing or invalid boundary');
  const length = Number(req.get('content-length') ?? 0);
  if (length > config.maxRequestBytes) {
    throw new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `Content-Length ${length} > MAX_REQUEST_BYTES ${config.maxRequestBytes}`);
  }
  return { boundary, responseType: stowResponseType(req.get('accept')) };
}

/**
 * A queue-mode worker's result (RESULT_HEADER: a MIP and its SEG) is stored whole or not at all, as embedded
 * (Archive.withdrawResult): where a part failed, or the request was cut (the parts after it never read), those stored
 * are taken out again and answered failed for the same reason, so that the worker retries, or fails, the result as one.
 */
async function withdrawnIfPartial(archive: Archive, settled: PartResult[], cut: MipsegError | undefined): Promise<PartResult[]> {
  const error = settled.find((r): r is Extract<PartResult, { status: 'failed' }> => r.status === 'failed')?.error ?? cut;
  if (!error) return settled;
  const withdrawn = await archive.withdrawResult(settled);
  return settled.map((r) => (r.status !== 'failed' && withdrawn.has(r.header.sopInstanceUid)
    ? { status: 'failed', error, sopClassUid: r.header.sopClassUid, sopInstanceUid: r.header.sopInstanceUid } : r));
}

/** Outcomes of the parts received; one whose store threw counts as failed, so the others can still be reported. */
async function settleParts(results: readonly Promise<PartResult>[]): Promise<PartResult[]> {
  const settled = await Promise.allSettled(results);
  return settled.map((s) => (s.status === 'fulfilled' ? s.value : failed(toMipsegError(s.reason))));
}

/**
 * Reads the body into `results`; returns the error that stopped it before its closing boundary (a limit, a
 * malformed or aborted body), by which time the parts before it may be stored.
 */
async function receiveParts(req: Request, res: Response, boundary: string, limits: MultipartLimits,
  onPart: (headers: PartHeaders) => PartSink): Promise<MipsegError | undefined> {
  try {
    // Not destroyed when the reader stops early, which would take the socket with it: the client has yet to hear
    // which parts were stored.
    await readMultipart(req.iterator({ destroyOnReturn: false }), boundary, limits, onPart);
    return undefined;
  } catch (err) {
    if (!req.complete) {
      // Discard the rest while answering (unread bytes at close would reset the connection under the response),
      // then close instead of reading it all.
      req.resume();
      res.set('Connection', 'close');
    }
    return senderGoneError(err, req) ?? toMipsegError(err);
  }
}

/** An administrator's first sign of a full disk: the senders are told per part (0xA700), nobody else is. */
function logStorageFull(results: readonly PartResult[], log: Logger, req: Request): void {
  const full = results.filter((r) => r.status === 'failed' && r.error.code === 'MIPSEG_STORAGE_FULL').length;
  if (full) log.warn({ code: 'MIPSEG_STORAGE_FULL', ...requestLogFields(req), parts: full, of: results.length }, 'out of storage: STOW parts not stored');
}

/** POST /studies and /studies/{StudyInstanceUID}: Store Instances (STOW-RS). */
export function storeInstancesHandler(archive: Archive, config: Config, log: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const study = typeof req.params['study'] === 'string' ? assertUid(req.params['study'], 'StudyInstanceUID') : undefined;
    const { boundary, responseType } = checkRequest(req, config);
    const base = dicomwebBase(req);
    const results: Promise<PartResult>[] = [];
    const bySopInstanceUid = new Map<string, Promise<PartResult>>();
    // A queue-mode worker's results (RESULT_HEADER, see the worker's result sink) pass the free-space floor.
    const result = req.get('mipseg-results') === 'true';
    // With it, the series the results were derived from: they are stored only while it is (a deletion may have come).
    const beside = result ? req.get('mipseg-beside-series') : undefined;
    const store = { ...(study === undefined ? {} : { expectedStudyUid: study }), result,
      ...(beside === undefined ? {} : { besideSeries: assertUid(beside, 'Mipseg-Beside-Series') }) };
    const arriving = new StudiesArriving(archive, config.pipeline.quietPeriodMs);
    let settled: PartResult[];
    let cut: MipsegError | undefined;
    try {
      cut = await receiveParts(req, res, boundary, { maxBodyBytes: config.maxRequestBytes, maxParts: config.maxPartsPerRequest },
        (headers) => partSink({ archive, config, log, store, results, bySopInstanceUid, arriving }, headers));
      settled = await settleParts(results);
    } finally {
      arriving.end();
    }
    if (result) settled = await withdrawnIfPartial(archive, settled, cut);
    // The renames and index rows of this request become durable together, before the client hears "stored".
    await archive.syncDeferred();
    // PS3.18 10.5.3: some instances stored is 202, listing them; a client told only 413/400 would send them again
    // or, worse, believe them lost. With nothing stored, the error itself is the truth.
    if (cut && settled.every((r) => r.status === 'failed')) throw cut;
    if (settled.length === 0) throw new MipsegError('MIPSEG_MULTIPART_MALFORMED', 'no parts');
    const status = cut ? 202 : responseStatus(settled);
    logStorageFull(settled, log, req);
    const warnings = stowWarnings(settled, cut, (error) => clientMessage(error, log, req));
    if (warnings.length) res.set('Warning', warnings);
    res.status(status).type(responseType).send(writeStowResponse(buildStowResponse(settled, base, study), responseType));
  };
}
