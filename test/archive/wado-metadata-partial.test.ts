import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { readMultipartParts } from '@mipseg/shared/dicomweb';
import { MipsegError } from '@mipseg/shared/errors';
import { DicomJsonPool } from '../../shared/src/dicom/dicom-json-pool';
import type { StoredInstance } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/dicom-output/synthetic-source';
import { CODE_VALUE, withNestedSequences } from '../support/nested-sequences';
import { unparseablePetInstance } from '../support/unparseable-dicom';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

/**
 * A study's or series' metadata with an instance whose full metadata cannot be read (a crafted or damaged copy) lists
 * that instance in part, from the index, instead of cutting the streamed array short after its 200 went out.
 */
const STUDY = '2.25.7731';
const SERIES_A = '2.25.7731.1';
const SERIES_B = '2.25.7731.2';
const XML = 'multipart/related; type="application/dicom+xml"';
const sop = (series: string, n: number): string => `${series}.${n}`;
/** SERIES_A's second instance: sequences nested 40 deep (stored by an earlier release). SERIES_B's first: not DICOM as read now. */
const TOO_DEEP = sop(SERIES_A, 2);
const UNPARSEABLE = sop(SERIES_B, 1);
const EVERY_INSTANCE = [sop(SERIES_A, 1), TOO_DEEP, sop(SERIES_A, 3), UNPARSEABLE, sop(SERIES_B, 2)];

type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string }>;
interface LogLine { readonly level: number; readonly msg?: string; readonly sopInstanceUid?: string; readonly code?: string }

function petSlice(series: string, n: number): Buffer {
  return syntheticPetInstance({ sopInstanceUid: sop(series, n), studyInstanceUid: STUDY, seriesInstanceUid: series,
    extra: { InstanceNumber: String(n) } });
}

/** Overwrites a stored copy in place, the index still naming it: as a copy stored before ingest refused such files. */
function overwriteStoredCopy(server: TestArchiveServer, sopInstanceUid: string, bytes: Buffer): void {
  const instance = server.archive.index.findInstance(sopInstanceUid) as StoredInstance;
  writeFileSync(join(server.dataDir, instance.storageKey), bytes);
}

const valueOf = (json: DicomJson, tag: string): unknown => json[tag]?.Value?.[0];
const sopOf = (json: DicomJson): unknown => valueOf(json, '00080018');

let server: TestArchiveServer;
const lines: LogLine[] = [];
beforeAll(async () => {
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  server = await startTestArchive({}, log);
  const files = [petSlice(SERIES_A, 1), petSlice(SERIES_A, 2), petSlice(SERIES_A, 3), petSlice(SERIES_B, 1), petSlice(SERIES_B, 2)];
  expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
  overwriteStoredCopy(server, TOO_DEEP, withNestedSequences(petSlice(SERIES_A, 2), 40, CODE_VALUE));
  overwriteStoredCopy(server, UNPARSEABLE, unparseablePetInstance(UNPARSEABLE));
});
afterAll(() => server.stop());
afterEach(() => jest.restoreAllMocks());

async function metadataJson(path: string): Promise<{ status: number; warning: string | null; body: DicomJson[] }> {
  const res = await fetch(`${server.baseUrl}${path}`, { headers: { Accept: 'application/dicom+json' } });
  return { status: res.status, warning: res.headers.get('warning'), body: JSON.parse(await res.text()) as DicomJson[] };
}

/** The entry of an instance given in part: what the index holds, no Pixel Data. */
function expectGivenInPart(json: DicomJson | undefined, series: string, n: number): void {
  expect(json).toBeDefined();
  const entry = json as DicomJson;
  expect(sopOf(entry)).toBe(sop(series, n));
  expect(valueOf(entry, '00080016')).toBe('1.2.840.10008.5.1.4.1.1.128');
  expect(valueOf(entry, '0020000D')).toBe(STUDY);
  expect(valueOf(entry, '0020000E')).toBe(series);
  expect(valueOf(entry, '00200013')).toBe(n);
  expect([valueOf(entry, '00280010'), valueOf(entry, '00280011'), valueOf(entry, '00280100')]).toEqual([2, 2, 16]);
  expect(valueOf(entry, '00080060')).toBe('PT');
  expect(valueOf(entry, '00100020')).toBe('MIPSEG-TEST-1');
  expect(entry['7FE00010']).toBeUndefined();
  expect(entry['00280008']).toBeUndefined(); // NumberOfFrames: the index holds none for a single frame
}

/** A whole entry: read from the file, Pixel Data by BulkDataURI and attributes the index does not hold. */
function expectWhole(json: DicomJson | undefined, sopInstanceUid: string): void {
  expect(sopOf(json ?? {})).toBe(sopInstanceUid);
  expect(json?.['7FE00010']?.BulkDataURI).toContain(`/instances/${sopInstanceUid}`);
  expect(valueOf(json ?? {}, '00101030')).toBe(81.5); // PatientWeight: the file's alone
}

describe('WADO-RS study and series metadata with an instance whose metadata cannot be read', () => {
  test('study metadata is a 200 and a whole JSON array listing every instance, the unreadable ones in part', async () => {
    const { status, body } = await metadataJson(`/studies/${STUDY}/metadata`);
    expect(status).toBe(200);
    expect(body.map(sopOf)).toEqual(EVERY_INSTANCE);
    expectWhole(body[0], sop(SERIES_A, 1));
    expectGivenInPart(body[1], SERIES_A, 2);
    expectWhole(body[2], sop(SERIES_A, 3));
    expectGivenInPart(body[3], SERIES_B, 1);
    expectWhole(body[4], sop(SERIES_B, 2));
  });

  test('asked for again (the failures now remembered), the study metadata is the same', async () => {
    const first = await metadataJson(`/studies/${STUDY}/metadata`);
    const again = await metadataJson(`/studies/${STUDY}/metadata`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
  });

  test('series metadata lists its unreadable instance in part, between whole ones', async () => {
    const { status, body } = await metadataJson(`/studies/${STUDY}/series/${SERIES_A}/metadata`);
    expect(status).toBe(200);
    expect(body.map(sopOf)).toEqual([sop(SERIES_A, 1), TOO_DEEP, sop(SERIES_A, 3)]);
    expectGivenInPart(body[1], SERIES_A, 2);
  });

  test('an unreadable first instance is named with its code in a Warning, the status not yet sent', async () => {
    const { status, warning, body } = await metadataJson(`/studies/${STUDY}/series/${SERIES_B}/metadata`);
    expect(status).toBe(200);
    expect(warning).toMatch(/^299 mipseg ".*given in part.*"$/);
    expect(warning).toContain(`${UNPARSEABLE} (MIPSEG_DICOM_UNPARSEABLE)`);
    expect(warning).not.toContain(sop(SERIES_B, 2));
    expectGivenInPart(body[0], SERIES_B, 1);
    expectWhole(body[1], sop(SERIES_B, 2));
  });

  test('HEAD of a series whose first instance is unreadable answers as GET does: 200 with the Warning', async () => {
    const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES_B}/metadata`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toContain(UNPARSEABLE);
  });

  test('each instance given in part is logged as a warning with its SOP Instance UID and code', async () => {
    lines.length = 0;
    await metadataJson(`/studies/${STUDY}/metadata`);
    const logged = lines.filter((l) => l.level === 40 && l.msg?.includes('given in part'));
    expect(logged.map((l) => [l.sopInstanceUid, l.code])).toEqual([
      [TOO_DEEP, 'MIPSEG_DICOM_SEQUENCES_TOO_DEEP'], [UNPARSEABLE, 'MIPSEG_DICOM_UNPARSEABLE']]);
  });

  test('in XML, study metadata has a document for every instance, the unreadable ones in part', async () => {
    const res = await fetch(`${server.baseUrl}/studies/${STUDY}/metadata`, { headers: { Accept: XML } });
    expect(res.status).toBe(200);
    const parts = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
    const xml = parts.map((p) => p.body.toString('utf8'));
    expect(xml.map((d) => /tag="00080018"[^]*?<Value number="1">([^<]+)</.exec(d)?.[1])).toEqual(EVERY_INSTANCE);
    expect(xml[1]).not.toContain('tag="7FE00010"');
    expect(xml[0]).toContain('tag="7FE00010"');
  });

  test('in XML, an unreadable first instance is named in a Warning', async () => {
    const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES_B}/metadata`, { headers: { Accept: XML } });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toContain(`${UNPARSEABLE} (MIPSEG_DICOM_UNPARSEABLE)`);
    expect(await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()))).toHaveLength(2);
  });

  test('an instance\'s own metadata still answers its error: the client asked for that instance alone', async () => {
    for (const accept of ['application/dicom+json', XML]) {
      const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES_A}/instances/${TOO_DEEP}/metadata`, { headers: { Accept: accept } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
    }
  });

  test('a copy whose read ran past its time limit (busy for an hour) is given in part at once, not retried and not cut', async () => {
    // As the metadata pool reports it and the archive then remembers it: MIPSEG_BUSY with the time-limit cause.
    const timedOut = new MipsegError('MIPSEG_BUSY', 'metadata not read within 60 s: its thread was stopped', {
      cause: Object.assign(new Error('metadata not read within 60 s'), { code: 'ERR_METADATA_READ_TIMED_OUT' }),
    });
    const read = server.archive.readMetadata.bind(server.archive);
    let asked = 0;
    jest.spyOn(server.archive, 'readMetadata').mockImplementation(async (instance: StoredInstance) => {
      if (instance.sopInstanceUid !== sop(SERIES_A, 3)) return read(instance);
      asked++;
      throw timedOut;
    });
    const { status, body } = await metadataJson(`/studies/${STUDY}/metadata`);
    expect(status).toBe(200);
    expect(asked).toBe(1);
    expect(body.map(sopOf)).toEqual(EVERY_INSTANCE);
    expectGivenInPart(body[2], SERIES_A, 3);
    expect(lines.some((l) => l.sopInstanceUid === sop(SERIES_A, 3) && l.code === 'MIPSEG_BUSY')).toBe(true);
  });

  test('a read refused as busy mid-stream is tried again, and its instance given whole', async () => {
    const read = server.archive.readMetadata.bind(server.archive);
    let refused = 0;
    jest.spyOn(server.archive, 'readMetadata').mockImplementation(async (instance: StoredInstance) => {
      if (instance.sopInstanceUid === sop(SERIES_A, 3) && refused++ === 0) throw new MipsegError('MIPSEG_BUSY', 'metadata threads');
      return read(instance);
    });
    const { status, body } = await metadataJson(`/studies/${STUDY}/metadata`);
    expect(status).toBe(200);
    expect(refused).toBe(2);
    expect(body.map(sopOf)).toEqual(EVERY_INSTANCE);
    expectWhole(body[2], sop(SERIES_A, 3));
  });
});

describe('WADO-RS study metadata with a copy whose metadata read ran past its time limit', () => {
  const PAUSED_STUDY = '2.25.7732';
  const PAUSED_SERIES = '2.25.7732.1';
  const bigSlice = (n: number): Buffer => syntheticPetInstance({ sopInstanceUid: `${PAUSED_SERIES}.${n}`, studyInstanceUid: PAUSED_STUDY,
    // Over 16 KiB, so that its metadata is read on a metadata thread, as a real PET slice's is.
    seriesInstanceUid: PAUSED_SERIES, extra: { InstanceNumber: String(n), Rows: 128, Columns: 128, PixelData: [new Uint16Array(128 * 128).buffer] } });

  const expectPausedInPart = (json: DicomJson | undefined): void => {
    expect(sopOf(json ?? {})).toBe(`${PAUSED_SERIES}.2`);
    expect(json?.['7FE00010']).toBeUndefined();
    expect(json?.['00101030']).toBeUndefined(); // PatientWeight: the file's alone
  };

  test('its answer in part has another ETag than the whole one: after the hour, a viewer revalidating gets the whole answer, not a 304', async () => {
    expect((await postStow(`${server.baseUrl}/studies`, [bigSlice(1), bigSlice(2)])).status).toBe(200);
    // As the metadata pool fails a read it stopped at its limit.
    const timedOut = new MipsegError('MIPSEG_INTERNAL', 'metadata not read within 60 s: its thread was stopped', {
      cause: Object.assign(new Error('metadata not read within 60 s'), { code: 'ERR_METADATA_READ_TIMED_OUT' }),
    });
    type Read = (this: DicomJsonPool, request: Parameters<DicomJsonPool['read']>[0]) => Promise<string>;
    const readOnThread = Reflect.get<object, 'read'>(DicomJsonPool.prototype, 'read') as Read;
    jest.spyOn(DicomJsonPool.prototype, 'read').mockImplementation(function (this: DicomJsonPool, request) {
      const bytes = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength);
      return bytes.includes(`${PAUSED_SERIES}.2`) ? Promise.reject(timedOut) : readOnThread.call(this, request);
    });
    const path = `${server.baseUrl}/studies/${PAUSED_STUDY}/metadata`;
    const first = await fetch(path, { headers: { Accept: 'application/dicom+json' } });
    const partial = JSON.parse(await first.text()) as DicomJson[];
    expect(first.status).toBe(200);
    expectPausedInPart(partial[1]);
    // Asked again within the hour: the tag names the copy not read meanwhile, and a viewer holding it gets a 304.
    const again = await fetch(path, { headers: { Accept: 'application/dicom+json' } });
    const pausedTag = again.headers.get('etag') as string;
    expectPausedInPart((JSON.parse(await again.text()) as DicomJson[])[1]);
    expect((await fetch(path, { headers: { Accept: 'application/dicom+json', 'If-None-Match': pausedTag } })).status).toBe(304);
    jest.restoreAllMocks();
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 60 * 60_000 + 1);
    const later = await fetch(path, { headers: { Accept: 'application/dicom+json', 'If-None-Match': pausedTag } });
    expect(later.status).toBe(200);
    expect(later.headers.get('etag')).not.toBe(pausedTag);
    expectWhole((JSON.parse(await later.text()) as DicomJson[])[1], `${PAUSED_SERIES}.2`);
  });
});
