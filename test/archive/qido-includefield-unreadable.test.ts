import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { MipsegError } from '@mipseg/shared/errors';
import type { StoredInstance } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/dicom-output/synthetic-source';
import { CODE_VALUE, withNestedSequences } from '../support/nested-sequences';
import { unparseablePetInstance } from '../support/unparseable-dicom';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

/**
 * A search whose includefield needs a row's representative instance read (a tag the index does not hold, or
 * includefield=all at instance level) and whose representative's full metadata cannot be read (a crafted or damaged
 * copy, or one whose read ran past its time limit) gives that row in part, instead of failing the whole search.
 */
const DEEP_STUDY = '2.25.7741';
const UNPARSEABLE_STUDY = '2.25.7742';
const WHOLE_STUDY = '2.25.7743';
const seriesOf = (study: string): string => `${study}.1`;
const sop = (study: string, n: number): string => `${seriesOf(study)}.${n}`;
/** Each the only instance of its study: sequences nested 40 deep, and not DICOM as read now (stored by an earlier release). */
const TOO_DEEP = sop(DEEP_STUDY, 1);
const UNPARSEABLE = sop(UNPARSEABLE_STUDY, 1);
const PATIENT_WEIGHT = '00101030'; // the file's alone: no index column holds it

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;
interface LogLine { readonly level: number; readonly msg?: string; readonly sopInstanceUid?: string; readonly code?: string }

function petSlice(study: string, n: number): Buffer {
  return syntheticPetInstance({ sopInstanceUid: sop(study, n), studyInstanceUid: study, seriesInstanceUid: seriesOf(study),
    extra: { InstanceNumber: String(n) } });
}

/** Overwrites a stored copy in place, the index still naming it: as a copy stored before ingest refused such files. */
function overwriteStoredCopy(server: TestArchiveServer, sopInstanceUid: string, bytes: Buffer): void {
  const instance = server.archive.index.findInstance(sopInstanceUid) as StoredInstance;
  writeFileSync(join(server.dataDir, instance.storageKey), bytes);
}

const valueOf = (json: DicomJson | undefined, tag: string): unknown => json?.[tag]?.Value?.[0];
const studyOf = (json: DicomJson): unknown => valueOf(json, '0020000D');

let server: TestArchiveServer;
const lines: LogLine[] = [];
beforeAll(async () => {
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  server = await startTestArchive({}, log);
  const files = [petSlice(DEEP_STUDY, 1), petSlice(UNPARSEABLE_STUDY, 1), petSlice(WHOLE_STUDY, 1), petSlice(WHOLE_STUDY, 2)];
  expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
  overwriteStoredCopy(server, TOO_DEEP, withNestedSequences(petSlice(DEEP_STUDY, 1), 40, CODE_VALUE));
  overwriteStoredCopy(server, UNPARSEABLE, unparseablePetInstance(UNPARSEABLE));
});
afterAll(() => server.stop());
afterEach(() => jest.restoreAllMocks());

async function search(path: string): Promise<{ status: number; warning: string | null; body: DicomJson[] }> {
  const res = await fetch(`${server.baseUrl}${path}`, { headers: { Accept: 'application/dicom+json' } });
  const text = await res.text();
  return { status: res.status, warning: res.headers.get('warning'), body: res.ok ? JSON.parse(text) as DicomJson[] : [] };
}

const studyRow = (body: DicomJson[], study: string): DicomJson | undefined => body.find((r) => studyOf(r) === study);

/** A row given in part: what the index holds, and the included attribute as a key without a value. */
function expectStudyInPart(row: DicomJson | undefined, study: string): void {
  expect(valueOf(row, '0020000D')).toBe(study);
  expect(valueOf(row, '00100020')).toBe('MIPSEG-TEST-1');
  expect(valueOf(row, '00201208')).toBe(1); // NumberOfStudyRelatedInstances
  expect(row?.[PATIENT_WEIGHT]).toEqual({ vr: 'DS' });
}

describe('QIDO-RS includefield with a representative instance whose metadata cannot be read', () => {
  test('a study search still answers 200 with every study, the unreadable ones\' included attribute empty', async () => {
    const { status, body } = await search(`/studies?includefield=${PATIENT_WEIGHT}`);
    expect(status).toBe(200);
    expect(body.map(studyOf).sort()).toEqual([DEEP_STUDY, UNPARSEABLE_STUDY, WHOLE_STUDY]);
    expectStudyInPart(studyRow(body, DEEP_STUDY), DEEP_STUDY);
    expectStudyInPart(studyRow(body, UNPARSEABLE_STUDY), UNPARSEABLE_STUDY);
    expect(valueOf(studyRow(body, WHOLE_STUDY), PATIENT_WEIGHT)).toBe(81.5);
  });

  test('the search\'s Warning names each unreadable instance with its code, and no readable one', async () => {
    const { warning } = await search(`/studies?includefield=${PATIENT_WEIGHT}`);
    expect(warning).toMatch(/^299 mipseg ".*given in part.*"$/);
    expect(warning).toContain(`${TOO_DEEP} (MIPSEG_DICOM_SEQUENCES_TOO_DEEP)`);
    expect(warning).toContain(`${UNPARSEABLE} (MIPSEG_DICOM_UNPARSEABLE)`);
    expect(warning).not.toContain(WHOLE_STUDY);
  });

  test('a search whose rows are all readable has no Warning', async () => {
    const { status, warning } = await search(`/studies?StudyInstanceUID=${WHOLE_STUDY}&includefield=${PATIENT_WEIGHT}`);
    expect(status).toBe(200);
    expect(warning).toBeNull();
  });

  test('a series search gives the unreadable series in part', async () => {
    const { status, warning, body } = await search(`/studies/${DEEP_STUDY}/series?includefield=${PATIENT_WEIGHT}`);
    expect(status).toBe(200);
    expect(body.map((r) => valueOf(r, '0020000E'))).toEqual([seriesOf(DEEP_STUDY)]);
    expect(body[0]?.[PATIENT_WEIGHT]).toEqual({ vr: 'DS' });
    expect(warning).toContain(TOO_DEEP);
  });

  test('includefield=all at instance level lists an unreadable instance with the attributes the index holds', async () => {
    const { status, warning, body } = await search(`/studies/${UNPARSEABLE_STUDY}/instances?includefield=all`);
    expect(status).toBe(200);
    expect(body).toHaveLength(1);
    expect(valueOf(body[0], '00080018')).toBe(UNPARSEABLE);
    expect(valueOf(body[0], '00080016')).toBe('1.2.840.10008.5.1.4.1.1.128');
    expect(valueOf(body[0], '00200013')).toBe(1);
    expect(valueOf(body[0], PATIENT_WEIGHT)).toBeUndefined();
    expect(warning).toContain(`${UNPARSEABLE} (MIPSEG_DICOM_UNPARSEABLE)`);
  });

  test('each row given in part is logged as a warning with its representative\'s SOP Instance UID and code', async () => {
    lines.length = 0;
    await search(`/studies?includefield=${PATIENT_WEIGHT}`);
    const logged = lines.filter((l) => l.level === 40 && l.msg?.includes('given in part'));
    expect(logged.map((l) => [l.sopInstanceUid, l.code]).sort()).toEqual([
      [TOO_DEEP, 'MIPSEG_DICOM_SEQUENCES_TOO_DEEP'], [UNPARSEABLE, 'MIPSEG_DICOM_UNPARSEABLE']]);
  });

  test('a representative whose read ran past its time limit (busy for an hour) gives its row in part, not a 503', async () => {
    // As the metadata pool reports it and the archive then remembers it: MIPSEG_BUSY with the time-limit cause.
    const timedOut = new MipsegError('MIPSEG_BUSY', 'metadata not read within 60 s: its thread was stopped', {
      cause: Object.assign(new Error('metadata not read within 60 s'), { code: 'ERR_METADATA_READ_TIMED_OUT' }),
    });
    const read = server.archive.readMetadata.bind(server.archive);
    jest.spyOn(server.archive, 'readMetadata').mockImplementation(async (instance: StoredInstance) => {
      if (instance.studyInstanceUid === WHOLE_STUDY) throw timedOut;
      return read(instance);
    });
    const { status, warning, body } = await search(`/studies?StudyInstanceUID=${WHOLE_STUDY}&includefield=${PATIENT_WEIGHT}`);
    expect(status).toBe(200);
    expect(body.map(studyOf)).toEqual([WHOLE_STUDY]);
    expect(body[0]?.[PATIENT_WEIGHT]).toEqual({ vr: 'DS' });
    expect(valueOf(body[0], '00201208')).toBe(2);
    expect(warning).toMatch(/\(MIPSEG_BUSY\)/);
  });

  test('a read refused as busy for a passing overload still answers the search 503', async () => {
    const read = server.archive.readMetadata.bind(server.archive);
    jest.spyOn(server.archive, 'readMetadata').mockImplementation(async (instance: StoredInstance) => {
      if (instance.studyInstanceUid === WHOLE_STUDY) throw new MipsegError('MIPSEG_BUSY', 'metadata threads');
      return read(instance);
    });
    const { status } = await search(`/studies?StudyInstanceUID=${WHOLE_STUDY}&includefield=${PATIENT_WEIGHT}`);
    expect(status).toBe(503);
  });
});
