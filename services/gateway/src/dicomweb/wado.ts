import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import {
  assertUid,
  canTranscodeToExplicitVrLittleEndian,
  compressedBulkDataMediaType,
  frameByteLength,
  hasNativeFrames,
  isUncompressed,
  locateEncapsulatedFrames,
  readBulkDataElement,
  readEncapsulatedFrames,
  readEncapsulatedFramesByRange,
  readFileMetaInformation,
  readNativeFrame,
  readPixelModule,
  TransferSyntax,
  transcodeToExplicitVrLittleEndian,
  type EncapsulatedFramesInFile,
  type ImagePixelAttributes,
  type PixelModule,
} from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import { HEADER_PROBE_BYTES, METADATA_FORMAT, type Archive, type RangedBlob, type StoredInstance } from '@mipseg/shared/store';
import { multipartPartType, negotiate, toNativeDicomModelXml, type AcceptEntry } from '@mipseg/shared/dicomweb';
import type { DicomJson } from '@mipseg/shared/dicom';
import { jsonOrXml } from './json-or-xml';
import { givenInPartWarning, instanceMetadataJson, listedMetadataReader, mapInOrder, METADATA_READS_AT_ONCE } from './metadata-reads';
import {
  assertRenderableSize,
  parseQualityParam,
  parseWindowParam,
  RENDERED_MEDIA_TYPES,
  renderedParamsNotApplied,
  renderFrame,
  renderStoredValues,
} from './render';
import {
  assertRenderableHeader,
  assertRenderableTransferSyntax,
  decodeFrameToRender,
  readEncapsulatedFrameToRender,
  readRenderedHeader,
  renderedFrameCount,
} from './rendered-decode';
import { parseViewportParam, viewportNotApplied, type Viewport } from './viewport';
import { warningHeaderValue } from './warning-header';
import { chunksOf, readStored, readStoredFile } from '../stored-read';
import { answeredNotModified, entityTag } from '../revalidation';
import { dicomwebBase } from './urls';

interface Scope {
  studyUid: string;
  seriesUid?: string;
  sopInstanceUid?: string;
}

function scopeOf(req: Request): Scope {
  const p = req.params as Record<string, string | undefined>;
  return {
    studyUid: assertUid(p['study'] ?? '', 'StudyInstanceUID'),
    ...(p['series'] !== undefined ? { seriesUid: assertUid(p['series'], 'SeriesInstanceUID') } : {}),
    ...(p['instance'] !== undefined ? { sopInstanceUid: assertUid(p['instance'], 'SOPInstanceUID') } : {}),
  };
}

function instancesIn(archive: Archive, scope: Scope): StoredInstance[] {
  const instances = archive.index.listInstances(scope);
  if (instances.length === 0) {
    const what = scope.sopInstanceUid ? 'instance' : scope.seriesUid ? 'series' : 'study';
    throw new MipsegError('MIPSEG_NOT_FOUND', what);
  }
  return instances;
}

/**
 * Sends `body` as the response's, at the client's pace. A client that goes away before the end (a viewer closing a
 * study) is no fault of ours to log as a 500: the request log shows the response cut short.
 */
async function streamTo(res: Response, body: AsyncIterable<Buffer>): Promise<void> {
  try {
    await pipeline(Readable.from(body), res);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}

/** Multipart body from parts produced lazily, so a 4 GB study streams without being held in memory. */
interface Part {
  readonly headers: string;
  readonly body: AsyncIterable<Buffer> | Iterable<Buffer> | Buffer;
  /** Releases what the part holds open (its file), sent or not. */
  readonly close?: () => Promise<void>;
}

async function* eachPart(parts: Iterable<Part> | AsyncIterable<Part>): AsyncGenerator<Part> {
  yield* parts;
}

/**
 * Whether the request is a HEAD. Express answers HEAD with the GET handler and Node drops the body, so all a GET would
 * read (a 2 GB study, 2 GB) was read for nothing: HEAD reads what deciding the status needs, and no more.
 */
function isHead(res: Response): boolean {
  return res.req.method === 'HEAD';
}

/** Those of `items` a response reads: for HEAD the first alone, whose read decides the status as it does for GET. */
function readFor<T>(res: Response, items: readonly T[]): readonly T[] {
  return isHead(res) ? items.slice(0, 1) : items;
}

/** Answers a HEAD with the status and multipart type a GET gets (its boundary not the GET's: each response has its own). */
function answerHead(res: Response, partType: string): void {
  res.status(200).type(`multipart/related; type="${partType}"; boundary=${randomUUID()}`).end();
}

/**
 * The first part is made before the status goes out: an instance deleted since the listing, or one that cannot be
 * transcoded, answers with its own status (404, 400) where it is the first, rather than a 200 cut short at once, which
 * a client sees as a dropped connection. A failure further on cuts the body short (see errorHandler). A HEAD is answered
 * once the first part is made, and no other is.
 */
async function sendMultipart(res: Response, partType: string, parts: Iterable<Part> | AsyncIterable<Part>): Promise<void> {
  const boundary = randomUUID();
  const produced = eachPart(parts);
  const first = await produced.next();
  if (isHead(res)) {
    try {
      if (!first.done) await first.value.close?.();
    } finally {
      await produced.return(undefined);
    }
    answerHead(res, partType);
    return;
  }
  let started = false;
  async function* body() {
    started = true;
    try {
      for (let next = first; !next.done; next = await produced.next()) {
        const part = next.value;
        try {
          yield Buffer.from(`--${boundary}\r\n${part.headers}\r\n\r\n`);
          if (Buffer.isBuffer(part.body)) yield part.body;
          else yield* part.body;
          yield Buffer.from('\r\n');
        } finally {
          await part.close?.();
        }
      }
      yield Buffer.from(`--${boundary}--\r\n`);
    } finally {
      await produced.return(undefined);
    }
  }
  try {
    res.status(200).type(`multipart/related; type="${partType}"; boundary=${boundary}`);
    await streamTo(res, body());
  } finally {
    // A client gone before the body began: the first part was made, and is released here, as is what the parts come
    // from (a file the rest would be read from).
    if (!started) {
      if (!first.done) await first.value.close?.();
      await produced.return(undefined);
    }
  }
}

/** Instances up to this size are read whole rather than streamed (PET slices are tens of kilobytes). */
const READ_WHOLE_MAX_BYTES = 1 << 20;
/** How many such instances are read ahead of the one being sent: at most 8 MB held. */
const READ_AHEAD = 8;

/**
 * The transfer syntax in which to send an instance stored in `stored`, given an Accept entry's transfer-syntax
 * parameter; undefined where mipseg cannot produce it. Since 2016c PS3.18 has no parameter mean
 * Explicit VR Little Endian and `*` mean as stored. Deviation: a compressed (or big-endian) instance is not
 * decompressed (or byte-swapped), so with no parameter it goes as stored, labelled with its transfer syntax.
 */
function transferSyntaxToSend(stored: string, requested: string | undefined): string | undefined {
  if (requested === '*' || requested === stored) return stored;
  const explicit = TransferSyntax.ExplicitVrLittleEndian;
  if ((requested === undefined || requested === explicit) && canTranscodeToExplicitVrLittleEndian(stored)) return explicit;
  return requested === undefined ? stored : undefined;
}

/** A part of `length` bytes in `transferSyntaxUid`. */
function dicomPartHeaders(transferSyntaxUid: string, length: number): string {
  return `Content-Type: application/dicom; transfer-syntax=${transferSyntaxUid}\r\nContent-Length: ${length}`;
}

/** A part transcoded to Explicit VR Little Endian: read whole (a large instance too), its values not copied. */
function transcodedPart(whole: Buffer): Part {
  const pieces = transcodeToExplicitVrLittleEndian(whole);
  const length = pieces.reduce((n, p) => n + p.length, 0);
  return { headers: dicomPartHeaders(TransferSyntax.ExplicitVrLittleEndian, length), body: pieces };
}

/**
 * The transfer syntax a file is in, by its own File Meta: the listed row's can be an older copy's, replaced (by a
 * corrected re-send) since the listing, and a study's later instances are read minutes after it. The row's where the
 * File Meta cannot be read; transcoding, if any, then says what is wrong.
 */
function fileTransferSyntax(head: Buffer, instance: StoredInstance): string {
  try {
    return readFileMetaInformation(head).transferSyntaxUid || instance.transferSyntaxUid;
  } catch {
    return instance.transferSyntaxUid;
  }
}

/** A small instance's part from its whole file: as stored, or transcoded. */
function wholeFilePart(instance: StoredInstance, whole: Buffer, sendAs: (stored: string) => string): Part {
  const stored = fileTransferSyntax(whole, instance);
  return sendAs(stored) === stored ? { headers: dicomPartHeaders(stored, whole.length), body: whole } : transcodedPart(whole);
}

/** A large instance's part, from its file opened now: streamed as stored (its own size), or read whole and transcoded. */
async function openedFilePart(archive: Archive, instance: StoredInstance, sendAs: (stored: string) => string): Promise<Part> {
  const file = await readStored(archive, instance, () => archive.blobs.openRanged(instance.storageKey));
  try {
    const stored = fileTransferSyntax(await file.read(0, HEADER_PROBE_BYTES), instance);
    if (sendAs(stored) !== stored) {
      const part = transcodedPart(await file.read(0, file.size));
      await file.close();
      return part;
    }
    return { headers: dicomPartHeaders(stored, file.size), body: chunksOf(file), close: () => file.close() };
  } catch (err) {
    await file.close();
    throw err;
  }
}

/**
 * The instances as parts, in order, each in the transfer syntax `sendAs` gives its file's. A stream costs four round
 * trips to the file system per file, one after another (open, read, read to the end, close): 267 slices took a
 * quarter of a second. Small files are instead read whole, READ_AHEAD at a time ahead of the one being sent;
 * large ones are opened at their turn and streamed.
 */
async function* instanceParts(
  archive: Archive,
  instances: readonly StoredInstance[],
  sendAs: (stored: string) => string,
): AsyncGenerator<Part> {
  const readWhole = (k: number): Promise<Buffer> | undefined => {
    const instance = instances[k];
    if (!instance || instance.size > READ_WHOLE_MAX_BYTES) return undefined;
    const read = readStoredFile(archive, instance);
    // Awaited below when its turn comes; until then, and if the client goes away first, no unhandled rejection.
    read.catch(() => undefined);
    return read;
  };
  const ahead = Array.from({ length: READ_AHEAD }, (_, k) => readWhole(k));
  for (let k = 0; k < instances.length; k++) {
    const instance = instances[k] as StoredInstance;
    const reading = ahead.shift();
    ahead.push(readWhole(k + READ_AHEAD));
    const whole = await reading;
    yield whole ? wholeFilePart(instance, whole, sendAs) : await openedFilePart(archive, instance, sendAs);
  }
}

/**
 * GET study/series/instance: Retrieve (WADO-RS). Each instance goes in the transfer syntax the Accept asks for:
 * as stored, or transcoded from Implicit to Explicit VR Little Endian (the default); 406 where an instance
 * cannot be produced in the one named.
 */
export function retrieveHandler(archive: Archive) {
  return async (req: Request, res: Response): Promise<void> => {
    const instances = instancesIn(archive, scopeOf(req));
    // Each stored transfer syntax by the client's best entry that can take it: a study of Implicit VR CT and JPEG
    // Lossless PET, asked for as Explicit VR Little Endian or JPEG Lossless, goes each in one of them. All are chosen
    // before the first part is sent, so that one no entry takes answers 406, not a 200 cut short.
    const targets = new Map<string, string>();
    for (const stored of new Set(instances.map((i) => i.transferSyntaxUid))) {
      const { entry } = negotiate(req.get('accept'), ['multipart/related'] as const, (candidate) =>
        (multipartPartType(candidate, 'application/dicom') === 'application/dicom' || candidate.type === '*/*') &&
        transferSyntaxToSend(stored, candidate.params['transfer-syntax']) !== undefined);
      targets.set(stored, transferSyntaxToSend(stored, entry.params['transfer-syntax']) ?? stored);
    }
    // A file found in a syntax no listed row had (replaced since the listing) goes as stored.
    const sendAs = (stored: string): string => targets.get(stored) ?? stored;
    await sendMultipart(res, 'application/dicom', instanceParts(archive, readFor(res, instances), sendAs));
  };
}

/**
 * GET …/metadata: the instances' DICOM JSON (or XML) with BulkDataURIs for pixel data. A study's or series' lists an
 * instance whose full metadata cannot be read in part (see listedMetadataReader); an instance's own answers its error,
 * the one thing the client asked for.
 */
export function retrieveMetadataHandler(archive: Archive, log: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const responseType = jsonOrXml(req.get('accept')); // PS3.18 10.4.3: a JSON array, or an XML document per instance
    const scope = scopeOf(req);
    const instances = instancesIn(archive, scope);
    const base = dicomwebBase(req);
    res.set('Vary', 'Accept');
    // A viewer asks for a study's metadata each time it opens it: while no instance changed (by the index's digests)
    // nor the form metadata is written in, a 304 answers without a read. A copy not read for a while (its read ran past
    // its time limit, so it is listed in part) is named with the time it is read again: the answer that lists it in part
    // has another tag than the whole one has after that time, and a viewer holding it gets the whole one, not a 304.
    // (A read that times out during this very answer goes out under the tag computed before it: a viewer that asks again
    // within the hour gets the tag naming it, and after the hour the whole answer.)
    const etag = entityTag(METADATA_FORMAT, responseType, base, instances.map((i) => {
      const pausedUntil = archive.metadataReadPausedUntil(i);
      return `${i.sopInstanceUid}:${i.sha256}${pausedUntil === undefined ? '' : `:paused-until-${pausedUntil}`}`;
    }));
    if (answeredNotModified(req, res, etag)) return;
    const reader = scope.sopInstanceUid === undefined
      ? listedMetadataReader(archive, base, log, () => !res.destroyed)
      : { read: (i: StoredInstance) => instanceMetadataJson(archive, i, base), givenInPart: [] };
    const items = mapInOrder(readFor(res, instances), METADATA_READS_AT_ONCE, reader.read);
    // Called once the first instance is read, before the status goes out: the instances given in part by then (the
    // first, and any of the reads in flight beside it that failed already) are named in a Warning. One found later
    // is in the log alone: the headers have gone.
    const warnOfPartsSoFar = (): void => {
      const warning = givenInPartWarning(reader.givenInPart);
      if (warning !== undefined) res.set('Warning', warningHeaderValue(warning));
    };
    if (responseType === 'xml') {
      // One Native DICOM Model document per instance, made and sent as its turn comes, as the JSON array is: a study's
      // metadata is tens of megabytes, and all of it (its JSON, parsed, and its XML) was held for each request.
      async function* documents(): AsyncGenerator<Part> {
        let first = true;
        for await (const item of items) {
          if (first) warnOfPartsSoFar();
          first = false;
          yield { headers: `Content-Type: ${DICOM_XML}`, body: Buffer.from(toNativeDicomModelXml(JSON.parse(item) as DicomJson), 'utf8') };
        }
      }
      await sendMultipart(res, DICOM_XML, documents());
      return;
    }
    // The first is read before the status goes out: an instance that cannot be read (deleted meanwhile) still gets
    // an answer with its status, where the study has one. A failure further on that is not the copy's own (see
    // listedMetadataReader) cuts the body short (see errorHandler).
    const first = await items.next();
    warnOfPartsSoFar();
    res.status(200).type(responseType);
    if (isHead(res)) {
      res.end();
      return;
    }
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from('[');
      if (!first.done) {
        yield Buffer.from(first.value);
        for await (const item of items) yield Buffer.from(`,${item}`);
      }
      yield Buffer.from(']');
    }
    await streamTo(res, body());
  };
}

/**
 * A frame list: frame numbers from 1, each at most NumberOfFrames (404 past it). A list naming more frames than the
 * instance has must repeat some: each repeat is read and held again until the answer goes out, so "1,1,1,…" in a
 * 16 KB URL could hold gigabytes of one large instance. Refused (400); a list as long as NumberOfFrames costs what
 * all frames cost.
 */
function parseFrameList(raw: string, numberOfFrames: number): number[] {
  const frames = raw.split(',').map((f) => Number(f.trim()));
  if (frames.some((f) => !Number.isInteger(f) || f < 1)) throw new MipsegError('MIPSEG_BAD_QUERY', `frames ${raw.slice(0, 64)}`);
  if (frames.length > numberOfFrames) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `a list of ${frames.length} frames, of an instance of ${numberOfFrames}`);
  }
  const missing = frames.find((f) => f > numberOfFrames);
  if (missing !== undefined) throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${missing} of ${numberOfFrames}`);
  return frames;
}

function singleInstance(archive: Archive, req: Request): StoredInstance {
  return instancesIn(archive, scopeOf(req))[0] as StoredInstance;
}

async function loadStored(archive: Archive, instance: StoredInstance): Promise<{ instance: StoredInstance; bytes: Buffer }> {
  return { instance, bytes: await readStoredFile(archive, instance) };
}

/**
 * Native instances larger than this have their frames read one by one from the file, not the whole file per request:
 * a viewer asks for an enhanced CT's 300 frames (150 MB) one request each, and each read all 150 MB.
 */
export const WHOLE_READ_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The frames `wanted` of a large native instance, each read alone from its file after the header (BitsAllocated 8
 * and more: a BINARY SEG's frames do not start on a byte, and SEGs are small), with the pixel module read from the
 * header. Undefined where the header runs past the probe, for the caller to read the file whole. Every frame is found
 * in Pixel Data before any is read; with `readThem` false (a HEAD) none is.
 */
async function nativeFramesByRange(archive: Archive, instance: StoredInstance, wanted: (numberOfFrames: number) => number[],
  readThem = true): Promise<{ module: PixelModule; frames: Uint8Array[] } | undefined> {
  const opened = await openWithPixelModule(archive, instance);
  if (!opened) return undefined;
  const { file, m } = opened;
  try {
    if (m.bitsAllocated === 1) return undefined;
    const size = frameByteLength(m);
    const available = Math.min(m.pixelDataLength, file.size - m.pixelDataOffset);
    const list = wanted(m.numberOfFrames);
    const past = list.find((f) => f * size > available);
    if (past !== undefined) {
      throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${past}: its bytes end past the ${available} bytes of Pixel Data`);
    }
    const frames: Uint8Array[] = [];
    // One after another, from the one file opened: a replacement published meanwhile is not mixed in.
    for (const f of readThem ? list : []) {
      const start = (f - 1) * size;
      const frame = await file.read(m.pixelDataOffset + start, size);
      if (frame.length < size) throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${f} of instance ${instance.sopInstanceUid}`);
      frames.push(frame);
    }
    return { module: m, frames };
  } finally {
    await file.close();
  }
}

/**
 * An instance's file, opened now, with the pixel module read from its header; undefined (the file closed) where the
 * header runs past the probe, for the caller to read the file whole.
 */
async function openWithPixelModule(archive: Archive, instance: StoredInstance): Promise<{ file: RangedBlob; m: PixelModule } | undefined> {
  const file = await readStored(archive, instance, () => archive.blobs.openRanged(instance.storageKey));
  try {
    return { file, m: readPixelModule(await file.read(0, HEADER_PROBE_BYTES)) };
  } catch {
    await file.close();
    return undefined;
  }
}

/** Whether an instance is large enough for its frames to be read one by one (see WHOLE_READ_MAX_BYTES). */
function readsFramesByRange(instance: StoredInstance): boolean {
  return hasNativeFrames(instance.transferSyntaxUid) && instance.size > WHOLE_READ_MAX_BYTES && instance.bitsAllocated !== 1;
}

/**
 * The frames `wanted` of a large encapsulated instance, each read alone from its one open file (a viewer asks for a
 * 300-frame JPEG 2000 instance's frames one request each, and each read all of it); undefined where they cannot be
 * found without reading it whole (see readEncapsulatedFramesByRange).
 */
async function encapsulatedFramesByRange(archive: Archive, instance: StoredInstance, wanted: (count: number) => number[]):
  Promise<{ transferSyntaxUid: string; frames: Buffer[] } | undefined> {
  const file = await readStored(archive, instance, () => archive.blobs.openRanged(instance.storageKey));
  try {
    return await readEncapsulatedFramesByRange(file, file.size, await file.read(0, HEADER_PROBE_BYTES), wanted);
  } finally {
    await file.close();
  }
}

/**
 * Whether an Accept entry can be answered with native (uncompressed) frames or bulk data: little-endian octets
 * (PS3.18 8.7.3.3.1), which is Explicit VR Little Endian, what no transfer-syntax parameter means there. Implicit
 * VR Little Endian is taken too: its pixel bytes are the same octets (some viewers ask for it). An entry naming
 * another transfer syntax (JPEG-LS, say) cannot be answered: mipseg does not compress for clients.
 */
const NATIVE_OCTET_SYNTAXES = new Set<string>(['*', TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian]);

function acceptsNativeOctets(entry: AcceptEntry): boolean {
  if (!['application/octet-stream', '*/*'].includes(multipartPartType(entry, 'application/octet-stream'))) return false;
  const requested = entry.params['transfer-syntax'];
  return requested === undefined || NATIVE_OCTET_SYNTAXES.has(requested);
}

/**
 * GET …/frames/{list}: native frames as application/octet-stream parts. BitsAllocated 1 frames are re-packed to
 * start at bit 0 (see readNativeFrame). Every frame is cut before the first part is sent, so a frame missing
 * from Pixel Data answers 404 rather than a truncated 200. Compressed frames go as stored (see
 * compressedFrameParts): mipseg does not transcode them. A HEAD of a large instance's frames finds them and reads
 * none (sendMultipart answers it with no part); a small instance's are read whole, as a GET's are, for the status.
 */
export function retrieveFramesHandler(archive: Archive) {
  return async (req: Request, res: Response): Promise<void> => {
    const looked = singleInstance(archive, req);
    if (readsFramesByRange(looked)) {
      negotiate(req.get('accept'), ['multipart/related'] as const, acceptsNativeOctets);
      const read = await nativeFramesByRange(archive, looked, (count) => parseFrameList(String(req.params['frames']), count), !isHead(res));
      if (read) {
        await sendMultipart(res, 'application/octet-stream', read.frames.map(nativeFramePart));
        return;
      }
    }
    if (!isUncompressed(looked.transferSyntaxUid) && looked.size > WHOLE_READ_MAX_BYTES) {
      const partType = compressedPartType(req.get('accept'), looked.transferSyntaxUid);
      // A frame past NumberOfFrames is the one 404 to find here: once the list is checked, a HEAD reads no frame.
      const read = await encapsulatedFramesByRange(archive, looked, (count) => {
        const list = parseFrameList(String(req.params['frames']), count);
        return isHead(res) ? [] : list;
      });
      if (read) {
        await sendMultipart(res, partType, encapsulatedParts(partType, read.transferSyntaxUid, read.frames));
        return;
      }
    }
    // The instance looked up once: each frame request of a viewer goes this way.
    const { instance, bytes } = await loadStored(archive, looked);
    if (!isUncompressed(instance.transferSyntaxUid)) {
      const { partType, parts } = compressedFrameParts(bytes, req.get('accept'), String(req.params['frames']));
      await sendMultipart(res, partType, parts);
      return;
    }
    negotiate(req.get('accept'), ['multipart/related'] as const, acceptsNativeOctets);
    const m = readPixelModule(bytes);
    const frames = parseFrameList(String(req.params['frames']), m.numberOfFrames).map((f) => readNativeFrame(bytes, m, f));
    await sendMultipart(res, 'application/octet-stream', frames.map(nativeFramePart));
  };
}

function nativeFramePart(frame: Uint8Array): Part {
  return {
    headers: `Content-Type: application/octet-stream; transfer-syntax=${TransferSyntax.ExplicitVrLittleEndian}`,
    body: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength),
  };
}

const PIXEL_DATA = '7FE00010';
const DICOM_XML = 'application/dicom+xml';

/** The tag a BulkDataURI names (see readDicomJson): 8 hex digits of a top-level element. */
function bulkDataTag(req: Request): string {
  const tag = String(req.params['tag']).toUpperCase();
  if (!/^[0-9A-F]{8}$/.test(tag)) throw new MipsegError('MIPSEG_NOT_FOUND', `bulk data ${tag}`);
  return tag;
}

/**
 * A native value (Pixel Data, overlay data, ICC profiles, private blobs) as PS3.18 uncompressed bulk data: little-endian
 * octets, so a big-endian instance's Pixel Data is swapped as its other values are (readBulkDataElement).
 */
function uncompressedBulkData(bytes: Buffer, tag: string, transferSyntaxUid: string): Uint8Array {
  if (tag !== PIXEL_DATA || transferSyntaxUid === TransferSyntax.ExplicitVrBigEndian) return readBulkDataElement(bytes, tag);
  const m = readPixelModule(bytes);
  return bytes.subarray(m.pixelDataOffset, m.pixelDataOffset + m.pixelDataLength);
}

/**
 * The part type for encapsulated frames: their own media type (PS3.18 Table 8.7.3-5), or application/octet-stream
 * where the client asks for it with transfer-syntax=* or the stored syntax. Without either, application/octet-stream
 * means uncompressed (PS3.18 8.7.3.3), which mipseg does not transcode to: 406.
 */
function compressedPartType(accept: string | undefined, transferSyntaxUid: string): string {
  const mediaType = compressedBulkDataMediaType(transferSyntaxUid);
  // What one Accept entry asks for, if mipseg can send it; the winning entry (not the last one looked at) decides.
  const partTypeFor = (entry: AcceptEntry): string | undefined => {
    const wanted = entry.type === '*/*' ? mediaType : multipartPartType(entry, mediaType);
    const ts = entry.params['transfer-syntax'];
    const asStored = ts === '*' || ts === transferSyntaxUid;
    if (wanted === 'application/octet-stream' && asStored) return wanted;
    return wanted === mediaType && (ts === undefined || asStored) ? mediaType : undefined;
  };
  const { entry } = negotiate(accept, ['multipart/related'] as const, (e) => partTypeFor(e) !== undefined);
  return partTypeFor(entry) ?? mediaType;
}

/**
 * The frames of encapsulated Pixel Data as stored (PS3.18 8.7.3.3.2): each frame's bitstream, as its own media
 * type (image/jls, image/jpeg, …) or, where the client asks for it with transfer-syntax=* or the stored syntax, as
 * application/octet-stream. This is what OHIF asks for (type=application/octet-stream; transfer-syntax=*): a
 * viewer decodes the frames itself. Without either, 406: mipseg does not decompress.
 */
function compressedFrameParts(bytes: Buffer, accept: string | undefined, list: string): { partType: string; parts: Part[] } {
  const { transferSyntaxUid, frames } = readEncapsulatedFrames(bytes);
  const partType = compressedPartType(accept, transferSyntaxUid);
  const wanted = parseFrameList(list, frames.length).map((f) => frames[f - 1] as Uint8Array);
  return { partType, parts: encapsulatedParts(partType, transferSyntaxUid, wanted) };
}

/** Frames' bitstreams as parts of `partType` (compressedPartType), each labelled with the transfer syntax they are in. */
function encapsulatedParts(partType: string, transferSyntaxUid: string, frames: readonly Uint8Array[]): Part[] {
  const headers = `Content-Type: ${partType}; transfer-syntax=${transferSyntaxUid}`;
  return frames.map((f) => ({ headers, body: Buffer.from(f.buffer, f.byteOffset, f.byteLength) }));
}

/**
 * GET …/bulkdata/{tag}: the value of a top-level element that metadata references by BulkDataURI, as one
 * application/octet-stream part. Encapsulated Pixel Data is served as PS3.18 8.7.3.3.2 compressed bulk data
 * (each frame's bitstream without item delimiters, one part per frame), not refused: the metadata must say
 * that Pixel Data has a value, and a BulkDataURI that answered nothing would be a dead link.
 */
export function retrieveBulkDataHandler(archive: Archive) {
  return async (req: Request, res: Response): Promise<void> => {
    const tag = bulkDataTag(req);
    const looked = singleInstance(archive, req);
    if (tag === PIXEL_DATA && readsFramesByRange(looked)) {
      negotiate(req.get('accept'), ['multipart/related'] as const, acceptsNativeOctets);
      const part = await nativePixelDataPart(archive, looked);
      if (part) {
        await sendMultipart(res, 'application/octet-stream', [part]);
        return;
      }
    }
    if (tag === PIXEL_DATA && !isUncompressed(looked.transferSyntaxUid) && looked.size > WHOLE_READ_MAX_BYTES) {
      if (await sendEncapsulatedPixelDataByRange(archive, looked, req.get('accept'), res)) return;
    }
    const { instance, bytes } = await loadStored(archive, looked);
    if (tag === PIXEL_DATA && !isUncompressed(instance.transferSyntaxUid)) {
      const { transferSyntaxUid, frames } = readEncapsulatedFrames(bytes);
      const partType = compressedPartType(req.get('accept'), transferSyntaxUid);
      await sendMultipart(res, partType, encapsulatedParts(partType, transferSyntaxUid, frames));
      return;
    }
    // Native values go as application/octet-stream only: an Accept without it (text/html, image/jpeg) is a 406.
    negotiate(req.get('accept'), ['multipart/related'] as const, acceptsNativeOctets);
    const body = uncompressedBulkData(bytes, tag, instance.transferSyntaxUid);
    function* parts() {
      yield { headers: 'Content-Type: application/octet-stream', body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
    }
    await sendMultipart(res, 'application/octet-stream', parts());
  };
}

/**
 * A large encapsulated instance's Pixel Data as compressed bulk data (one part a frame), each frame read from its one
 * open file as its turn comes: a client following the BulkDataURI of a 300-frame JPEG 2000 instance held the whole file
 * and every frame cut from it at once. False (nothing sent, the file closed) where the frames cannot be found without
 * reading the file whole (see locateEncapsulatedFrames). HEAD gets the GET's status and type once the frames are
 * found, and no frame is read.
 */
async function sendEncapsulatedPixelDataByRange(archive: Archive, instance: StoredInstance, accept: string | undefined, res: Response):
  Promise<boolean> {
  const file = await readStored(archive, instance, () => archive.blobs.openRanged(instance.storageKey));
  let partType: string | undefined;
  let located: EncapsulatedFramesInFile | undefined;
  try {
    located = await locateEncapsulatedFrames(file, file.size, await file.read(0, HEADER_PROBE_BYTES));
    // By the file's own transfer syntax (a replaced copy's may differ from the row's); a 406 closes the file too.
    partType = located && compressedPartType(accept, located.transferSyntaxUid);
  } finally {
    if (partType === undefined) await file.close();
  }
  if (!located || partType === undefined) return false;
  if (isHead(res)) {
    // Its first part would be a frame read (see isHead).
    await file.close();
    answerHead(res, partType);
    return true;
  }
  const { transferSyntaxUid, numberOfFrames, readFrame } = located;
  const headers = `Content-Type: ${partType}; transfer-syntax=${transferSyntaxUid}`;
  async function* frames(): AsyncGenerator<Part> {
    try {
      for (let f = 1; f <= numberOfFrames; f++) yield { headers, body: await readFrame(f) };
    } finally {
      await file.close();
    }
  }
  await sendMultipart(res, partType, frames());
  return true;
}

/**
 * A large native instance's Pixel Data as one part, streamed from its file after the header: a viewer or script
 * following the BulkDataURI of a 150 MB enhanced CT holds a megabyte at a time, not the file. Undefined where the
 * header runs past the probe, for the caller to read the file whole.
 */
async function nativePixelDataPart(archive: Archive, instance: StoredInstance): Promise<Part | undefined> {
  const opened = await openWithPixelModule(archive, instance);
  if (!opened) return undefined;
  const { file, m } = opened;
  const end = Math.min(m.pixelDataOffset + m.pixelDataLength, file.size);
  return { headers: 'Content-Type: application/octet-stream', body: chunksOf(file, m.pixelDataOffset, end), close: () => file.close() };
}

/** Part of a rendered image's ETag: bumped when renderFrame draws the same instance differently. */
const RENDERING_VERSION = 3;

/**
 * Refuses a frame of more than MAX_RENDERED_PIXELS from the size the index holds, before a frame is read; from the
 * header where the index has none.
 */
async function assertRenderableSizeBeforeRead(archive: Archive, looked: StoredInstance): Promise<void> {
  if (looked.rows !== null && looked.columns !== null) {
    assertRenderableSize(looked.rows, looked.columns);
    return;
  }
  const m = await readRenderedHeader(archive, looked);
  assertRenderableSize(m.rows, m.columns);
}

/** A viewport drawn smaller than it asked for (see viewportNotApplied), for the Warning; known once the frame's size is. */
function viewportWarnings(m: ImagePixelAttributes, viewport: Viewport | undefined): string[] {
  const note = viewport && viewportNotApplied(m.columns, m.rows, viewport);
  return note ? [note] : [];
}

/**
 * GET …/rendered and …/frames/{n}/rendered: a PNG (or, asked for, a JPEG) for viewers and the worklist. One frame:
 * PNG and JPEG hold one, and PS3.18 leaves several to multi-frame types (GIF, video) mipseg does not make, so a frame
 * list of more is a 400, as PS3.18 9.5.2 has it for a frameNumber of more than one value. A compressed frame (JPEG
 * Lossless, JPEG-LS, JPEG 2000, RLE Lossless) is decoded and drawn as a native one; HEAD reads the header and no frame.
 */
export function retrieveRenderedHandler(archive: Archive) {
  return async (req: Request, res: Response): Promise<void> => {
    const { offer: type } = negotiate(req.get('accept'), RENDERED_MEDIA_TYPES);
    const looked = singleInstance(archive, req);
    const frameList = req.params['frames'] === undefined ? undefined : String(req.params['frames']);
    if (frameList !== undefined && frameList.includes(',')) {
      throw new MipsegError('MIPSEG_BAD_QUERY', `frames ${frameList.slice(0, 64)}: /rendered draws one frame (PNG and JPEG hold one)`);
    }
    const window = parseWindowParam(req.query['window']);
    // Checked for a PNG too: a malformed value is the client's mistake whichever type it gets.
    const requestedQuality = parseQualityParam(req.query['quality']);
    const quality = type === 'image/jpeg' ? requestedQuality : undefined;
    const viewport = parseViewportParam(req.query['viewport']);
    const notApplied = renderedParamsNotApplied(req.query, type);
    const warn = (more: readonly string[]): void => {
      const all = [...notApplied, ...more];
      if (all.length > 0) res.set('Warning', warningHeaderValue(`rendered parameters not applied: ${all.join('; ')}`));
    };
    warn([]);
    // Revalidated at each use, not kept for an hour: a replaced copy (STOW of a corrected instance) or a deleted one
    // must not go on showing. The tag is the stored copy's digest (from the index) with what is rendered of it and
    // how, so an unchanged instance costs a 304, not a read and a render.
    const etag = entityTag(RENDERING_VERSION, looked.sha256, frameList ?? null, type, window ?? null, quality ?? null, viewport ?? null);
    res.vary('Accept');
    if (answeredNotModified(req, res, etag)) return;
    const frameOf = (count: number): number => (frameList === undefined ? 1 : parseFrameList(frameList, count)[0] ?? 1);
    // Lossy JPEG baseline, Deflate and the like, and frames too large to draw, are refused before the file is read.
    assertRenderableTransferSyntax(looked.transferSyntaxUid);
    await assertRenderableSizeBeforeRead(archive, looked);
    if (isHead(res)) {
      // The status and headers a GET gets, from the header alone: no frame is read, decoded or drawn. What only the
      // frame shows (a bitstream that cannot be decoded or declares another image, fragments that do not give
      // NumberOfFrames frames) shows only to a GET.
      const m = await readRenderedHeader(archive, looked);
      assertRenderableHeader(m);
      frameOf(renderedFrameCount(m));
      warn(viewportWarnings(m, viewport));
      res.status(200).type(type).end();
      return;
    }
    if (!hasNativeFrames(looked.transferSyntaxUid)) {
      // Compressed: the one frame asked for is decoded (on this thread), then drawn as a native one.
      const { m, frame } = await readEncapsulatedFrameToRender(archive, looked, frameOf, looked.size > WHOLE_READ_MAX_BYTES);
      const body = renderStoredValues(decodeFrameToRender(frame, m), m, type, { window, quality, viewport });
      warn(viewportWarnings(m, viewport));
      res.status(200).type(type).send(body);
      return;
    }
    // A large instance's one frame is read alone (a thumbnail of a 300-frame enhanced CT read all 150 MB).
    const read = readsFramesByRange(looked) ? await nativeFramesByRange(archive, looked, (count) => [frameOf(count)]) : undefined;
    if (read) {
      const [frame = new Uint8Array(0)] = read.frames;
      const alone: PixelModule = { ...read.module, numberOfFrames: 1, pixelDataOffset: 0, pixelDataLength: frame.length };
      const body = renderFrame(frame, alone, 1, type, { window, quality, viewport });
      warn(viewportWarnings(alone, viewport));
      res.status(200).type(type).send(body);
      return;
    }
    const { bytes } = await loadStored(archive, looked);
    const m = readPixelModule(bytes);
    const body = renderFrame(bytes, m, frameOf(m.numberOfFrames), type, { window, quality, viewport });
    warn(viewportWarnings(m, viewport));
    res.status(200).type(type).send(body);
  };
}
