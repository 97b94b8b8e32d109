import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createLogger } from '@mipseg/shared/log';
import { syntheticPetInstance, type SyntheticPetSlice } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const KEPT = '2.25.9100';
const DELETED = '2.25.9200';

/** A PET slice of `study` (series `${study}.1`); the same patient for every study unless `patientId` says otherwise. */
function slice(study: string, n: number, patientId = 'DEL-1', extra: Partial<SyntheticPetSlice> = {}): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${study}.1.${n}`, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, n],
    ...extra, attributes: { StudyInstanceUID: study, PatientID: patientId, ...extra.attributes } }));
}

/**
 * Whether retired/ holds `path` (a study's or series' folder of copies) under any of its folders: those of the days
 * the copies were retired on, and the one folder releases before them kept.
 */
function retiredHolds(dataDir: string, ...path: string[]): boolean {
  return retiredFolders(dataDir).some((folder) => existsSync(join(folder, ...path)));
}

/** The folders under retired/ laid out as instances/ is: retired/{day}/instances, and the earlier retired/instances. */
function retiredFolders(dataDir: string): string[] {
  const root = join(dataDir, 'retired');
  if (!existsSync(root)) return [];
  return readdirSync(root).map((name) => (name === 'instances' ? join(root, name) : join(root, name, 'instances')));
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly studyInstanceUid?: string;
  readonly requestId?: string;
  readonly instances?: number;
  readonly remote?: string;
}

describe('DELETE /dicomweb/studies/{study}', () => {
  let server: TestArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const del = (study: string) => fetch(`${server?.baseUrl}/studies/${study}`, { method: 'DELETE' });
  const studies = async (): Promise<string[]> => {
    const rows = (await (await fetch(`${server?.baseUrl}/studies`)).json()) as Record<string, { Value: string[] }>[];
    return rows.map((r) => r['0020000D']?.Value[0] as string).sort();
  };
  const patientIds = (): string[] => {
    const db = new Database(join(server?.dataDir as string, 'index.sqlite'), { readonly: true });
    try {
      return (db.prepare('SELECT patient_id AS id FROM patients ORDER BY 1').all() as { id: string }[]).map((r) => r.id);
    } finally {
      db.close();
    }
  };

  test('answers 405 with Allow unless ALLOW_STUDY_DELETE is on, and keeps the study', async () => {
    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    const res = await del(DELETED);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_DELETE_DISABLED' });
    expect(await studies()).toEqual([DELETED]);
  });

  test('removes the study\'s rows, files, cached metadata and retired copies, logs who asked, and leaves the rest', async () => {
    const lines: LogLine[] = [];
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as LogLine) }));
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(KEPT, 1), slice(DELETED, 1), slice(DELETED, 2)])).status).toBe(200);
    // A replaced copy (kept under retired/) and cached metadata: both are the deleted study's data too.
    expect((await postStow(`${base}/studies`, [slice(DELETED, 2, 'DEL-1', { stored: [9] })])).status).toBe(202);
    expect((await fetch(`${base}/studies/${DELETED}/metadata`)).status).toBe(200);
    expect(retiredHolds(server.dataDir, DELETED)).toBe(true);

    const res = await del(DELETED);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ studyInstanceUid: DELETED, deletedInstances: 2 });

    expect(await studies()).toEqual([KEPT]);
    expect((await fetch(`${base}/studies/${DELETED}/metadata`)).status).toBe(404);
    expect(existsSync(join(server.dataDir, 'instances', DELETED))).toBe(false);
    expect(retiredHolds(server.dataDir, DELETED)).toBe(false);
    expect(readdirSync(join(server.dataDir, 'instances'))).toEqual([KEPT]);
    expect(patientIds()).toEqual(['DEL-1']); // the kept study's patient
    const audit = lines.filter((l) => l.msg === 'study deleted');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ level: 40, studyInstanceUid: DELETED, instances: 2, remote: '127.0.0.1' });
    expect(audit[0]?.requestId).toEqual(res.headers.get('x-request-id'));

    expect((await del(DELETED)).status).toBe(404);
    // Sent again, it is a new study like any other.
    expect((await postStow(`${base}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    expect(await studies()).toEqual([KEPT, DELETED]);
  });

  test('removes the patient with its last study', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(KEPT, 1, 'KEEP-1'), slice(DELETED, 1, 'GONE-1')])).status).toBe(200);
    expect((await del(DELETED)).status).toBe(200);
    expect(patientIds()).toEqual(['KEEP-1']);
  });

  // A study filed under an existing PatientID with another patient's name (a registration error) renamed the patient of
  // every study of that ID: deleting it must give the patient back what the studies that stay say.
  test('deleting a study filed under the wrong patient leaves that patient\'s other studies with their own name and birth date', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(KEPT, 1, 'P-SHARED', { attributes: { PatientName: 'Smith^Ann', PatientBirthDate: '19600101' } })])).status).toBe(200);
    expect((await postStow(`${base}/studies`, [slice(DELETED, 1, 'P-SHARED', { attributes: { PatientName: 'Jones^Bob', PatientBirthDate: '19450505' } })])).status).toBe(200);
    const patientOf = async (study: string) => {
      const [row] = (await (await fetch(`${base}/studies?StudyInstanceUID=${study}`)).json()) as Record<string, { Value: unknown[] }>[];
      return [row?.['00100010']?.Value[0], row?.['00100030']?.Value[0]];
    };
    expect(await patientOf(KEPT)).toEqual([{ Alphabetic: 'Jones^Bob' }, '19450505']);
    expect((await del(DELETED)).status).toBe(200);
    expect(await patientOf(KEPT)).toEqual([{ Alphabetic: 'Smith^Ann' }, '19600101']);
    expect(JSON.stringify(await (await fetch(`${base}/studies?PatientName=Jones*`)).json())).toBe('[]');
  });

  test('deleting a study\'s last series filed under the wrong patient does the same', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(KEPT, 1, 'P-SHARED', { attributes: { PatientName: 'Smith^Ann' } })])).status).toBe(200);
    expect((await postStow(`${base}/studies`, [slice(DELETED, 1, 'P-SHARED', { attributes: { PatientName: 'Jones^Bob' } })])).status).toBe(200);
    expect((await fetch(`${base}/studies/${DELETED}/series/${DELETED}.1`, { method: 'DELETE' })).status).toBe(200);
    const [row] = (await (await fetch(`${base}/studies?StudyInstanceUID=${KEPT}`)).json()) as Record<string, { Value: unknown[] }>[];
    expect(row?.['00100010']?.Value).toEqual([{ Alphabetic: 'Smith^Ann' }]);
  });

  test('answers 409 while the guard says the study\'s analysis is pending, and keeps it', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, undefined,
      { studyDeletionGuard: (study) => Promise.resolve(study === DELETED ? 'its analysis (job seg-1) is running' : undefined) });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    const res = await del(DELETED);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_STUDY_BUSY', message: expect.stringContaining('job seg-1') as unknown });
    expect(await studies()).toEqual([DELETED]);
  });

  test('stores racing a deletion all succeed, and leave every indexed instance with its file and no file unindexed', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const { archive, dataDir } = server;
    const store = (n: number) => {
      const temp = join(dataDir, 'tmp', `race-${n}.part`);
      writeFileSync(temp, slice(DELETED, n));
      return archive.storeFromTemp(temp);
    };
    expect((await store(0)).status).toBe('stored');
    // The deletion starts when the tenth store lands: others are then part-way through theirs.
    let landed = 0;
    let deletion: Promise<number | undefined> | undefined;
    archive.onInstanceStored(() => {
      if (++landed === 10) deletion = archive.deleteStudy(DELETED);
    });
    const outcomes = await Promise.all(Array.from({ length: 25 }, (_, k) => store(k + 1)));
    expect(await deletion).toBeGreaterThanOrEqual(10);

    expect(outcomes.map((o) => o.status)).toEqual(Array<string>(25).fill('stored'));
    const indexed = archive.index.listInstances({ studyUid: DELETED }).map((i) => i.storageKey).sort();
    const folder = join(dataDir, 'instances', DELETED);
    const files = existsSync(folder)
      ? readdirSync(folder, { recursive: true }).map(String).filter((f) => f.endsWith('.dcm')).map((f) => join('instances', DELETED, f)).sort()
      : [];
    expect(files).toEqual(indexed);
    expect(indexed.length).toBeLessThan(25);
  });

  test('a STOW that stored a part of the study before its deletion still answers for its other parts', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const { archive, dataDir } = server;
    // As STOW stores each part: the folder's sync is left to the end of the request.
    writeFileSync(join(dataDir, 'tmp', 'a.part'), slice(DELETED, 1));
    expect((await archive.storeFromTemp(join(dataDir, 'tmp', 'a.part'), { deferDirSync: true })).status).toBe('stored');
    expect(await archive.deleteStudy(DELETED)).toBe(1);
    writeFileSync(join(dataDir, 'tmp', 'b.part'), slice(KEPT, 1));
    expect((await archive.storeFromTemp(join(dataDir, 'tmp', 'b.part'), { deferDirSync: true })).status).toBe('stored');
    await expect(archive.blobs.syncPendingDirs()).resolves.toBeUndefined();
  });

  test('metadata reads racing the deletion leave no cached metadata behind, and a read after it is a 404', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const { archive, dataDir } = server;
    expect((await postStow(`${server.baseUrl}/studies`, Array.from({ length: 8 }, (_, n) => slice(DELETED, n + 1)))).status).toBe(200);
    const rows = archive.index.listInstances({ studyUid: DELETED });
    const reads = rows.map((row) => archive.readMetadata(row));
    await archive.deleteStudy(DELETED);
    await Promise.allSettled(reads);
    expect(existsSync(join(dataDir, 'instances', DELETED))).toBe(false);
    await expect(archive.readMetadata(rows[0] as (typeof rows)[number])).rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
  });

  test('leaves the patient\'s name and ID nowhere in the index files', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const secret = slice(DELETED, 1, 'MRN-778899', { attributes: { PatientName: 'Secretname^Patient' } });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(KEPT, 1), secret])).status).toBe(200);
    expect((await del(DELETED)).status).toBe(200);
    const { dataDir } = server;
    await server.gateway.close(1000);
    server.archive.close(); // what is on disk once the process has let go of it
    for (const name of readdirSync(dataDir).filter((f) => f.startsWith('index.sqlite'))) {
      const bytes = readFileSync(join(dataDir, name));
      expect([name, bytes.includes('Secretname'), bytes.includes('MRN-778899')]).toEqual([name, false, false]);
    }
    await rm(dataDir, { recursive: true, force: true });
    server = undefined;
  });

  test('answers 503 when the job queue cannot say whether the study is busy, and keeps it', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, undefined, { studyDeletionGuard: () => new Promise(() => undefined) });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    const res = await del(DELETED);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    expect(await studies()).toEqual([DELETED]);
  }, 15_000);

  test('refuses a malformed UID with 400', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await del('1.2.x')).status).toBe(400);
  });
});

describe('DELETE /dicomweb/studies/{study}/series/{series}', () => {
  let server: TestArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** A slice of a second series of `study`: `${study}.2`. */
  const otherSeries = (study: string, n: number, stored?: number[], attributes: Record<string, unknown> = {}) => Buffer.from(syntheticPetInstance({
    sopInstanceUid: `${study}.2.${n}`, seriesInstanceUid: `${study}.2`, imagePositionPatient: [0, 0, n], ...(stored ? { stored } : {}),
    attributes: { StudyInstanceUID: study, PatientID: 'DEL-1', ...attributes } }));
  const delSeries = (study: string, series: string) => fetch(`${server?.baseUrl}/studies/${study}/series/${series}`, { method: 'DELETE' });
  const seriesOf = async (study: string): Promise<string[]> => {
    const res = await fetch(`${server?.baseUrl}/studies/${study}/series`);
    const rows = (await res.json()) as Record<string, { Value: string[] }>[];
    return rows.map((r) => r['0020000E']?.Value[0] as string).sort();
  };

  test('removes one series (rows, files, cached metadata, retired copies), keeps the study\'s others, and logs who asked', async () => {
    const lines: LogLine[] = [];
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as LogLine) }));
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [slice(DELETED, 1), slice(DELETED, 2), otherSeries(DELETED, 1)])).status).toBe(200);
    expect((await postStow(`${base}/studies`, [otherSeries(DELETED, 1, [9])])).status).toBe(202); // a replaced copy, retired
    expect((await fetch(`${base}/studies/${DELETED}/series/${DELETED}.2/metadata`)).status).toBe(200);
    expect(retiredHolds(server.dataDir, DELETED, `${DELETED}.2`)).toBe(true);

    const res = await delSeries(DELETED, `${DELETED}.2`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ studyInstanceUid: DELETED, seriesInstanceUid: `${DELETED}.2`, deletedInstances: 1 });
    expect(await seriesOf(DELETED)).toEqual([`${DELETED}.1`]);
    const [study] = (await (await fetch(`${base}/studies?StudyInstanceUID=${DELETED}`)).json()) as Record<string, { Value: number[] }>[];
    expect([study?.['00201206']?.Value[0], study?.['00201208']?.Value[0]]).toEqual([1, 2]); // counts follow
    expect((await fetch(`${base}/studies/${DELETED}/series/${DELETED}.2/metadata`)).status).toBe(404);
    expect(existsSync(join(server.dataDir, 'instances', DELETED, `${DELETED}.2`))).toBe(false);
    expect(retiredHolds(server.dataDir, DELETED, `${DELETED}.2`)).toBe(false);
    expect(readdirSync(join(server.dataDir, 'instances', DELETED))).toEqual([`${DELETED}.1`]);
    expect(lines.filter((l) => l.msg === 'series deleted').map((l) => [l.studyInstanceUid, l.instances])).toEqual([[DELETED, 1]]);
  });

  test('deleting a series whose re-send moved the study to the wrong patient puts the study back under its own patient', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    const right = slice(DELETED, 1, 'RIGHT-1', { attributes: { PatientName: 'Right^Patient', AccessionNumber: 'ACC-RIGHT' } });
    const second = (attributes: Record<string, unknown>) => Buffer.from(syntheticPetInstance({ sopInstanceUid: `${DELETED}.2.1`,
      seriesInstanceUid: `${DELETED}.2`, imagePositionPatient: [0, 0, 1], attributes: { StudyInstanceUID: DELETED, ...attributes } }));
    const wrong = second({ PatientID: 'WRONG-9', PatientName: 'Wrong^Patient', PatientBirthDate: '19500101', AccessionNumber: 'ACC-WRONG' });
    expect((await postStow(`${server.baseUrl}/studies`, [right])).status).toBe(200);
    // Sent new, the series under another patient is refused (0xC411); a re-send of its SOP Instance UID moves the study.
    expect((await postStow(`${server.baseUrl}/studies`, [wrong])).status).toBe(409);
    expect((await postStow(`${server.baseUrl}/studies`, [second({ PatientID: 'RIGHT-1', PatientName: 'Right^Patient' })])).status).toBe(200);
    expect((await postStow(`${server.baseUrl}/studies`, [wrong])).status).toBe(202);
    expect((await delSeries(DELETED, `${DELETED}.2`)).status).toBe(200);

    const [study] = (await (await fetch(`${server.baseUrl}/studies?StudyInstanceUID=${DELETED}`)).json()) as Record<string, { Value: unknown[] }>[];
    expect([study?.['00100020']?.Value[0], study?.['00100010']?.Value[0], study?.['00080050']?.Value[0]])
      .toEqual(['RIGHT-1', { Alphabetic: 'Right^Patient' }, 'ACC-RIGHT']);
    const db = new Database(join(server.dataDir, 'index.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT patient_id AS id, patient_name AS name FROM patients').all()).toEqual([{ id: 'RIGHT-1', name: 'Right^Patient' }]);
    } finally {
      db.close();
    }
  });

  /** An older study of the patient with two series, named Doe^Jane, then a later study that corrects it to Smith^Jane. */
  async function storeNameThenCorrection(patientId: string): Promise<void> {
    const older = [slice(DELETED, 1, patientId, { attributes: { PatientName: 'Doe^Jane' } }),
      otherSeries(DELETED, 1, undefined, { PatientID: patientId, PatientName: 'Doe^Jane' })];
    expect((await postStow(`${server?.baseUrl}/studies`, older)).status).toBe(200);
    expect((await postStow(`${server?.baseUrl}/studies`, [slice(KEPT, 1, patientId, { attributes: { PatientName: 'Smith^Jane' } })])).status).toBe(200);
  }

  // The patient row is shared by the patient's studies, and the latest instance stored sets it: a stray series deleted
  // from an older study refiled the patient from that study's first instance, the name before its correction.
  test('deleting a series of an older study keeps the name a later study of the same patient corrected, for both', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    await storeNameThenCorrection('SAME-1');
    const names = async () => {
      const rows = (await (await fetch(`${server?.baseUrl}/studies?PatientID=SAME-1`)).json()) as Record<string, { Value: Array<{ Alphabetic: string }> }>[];
      return rows.map((r) => r['00100010']?.Value[0]?.Alphabetic);
    };
    expect(await names()).toEqual(['Smith^Jane', 'Smith^Jane']);
    // A late slice of the older study's series: a known series, so it sets nothing, however new it is.
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 2, 'SAME-1', { attributes: { PatientName: 'Doe^Jane' } })])).status).toBe(200);
    expect(await names()).toEqual(['Smith^Jane', 'Smith^Jane']);
    expect((await delSeries(DELETED, `${DELETED}.2`)).status).toBe(200);
    expect(await names()).toEqual(['Smith^Jane', 'Smith^Jane']);
  });

  test('deleting a series still succeeds when the later study\'s instance cannot be read (being deleted, or its file lost)', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    await storeNameThenCorrection('SAME-2');
    const [later] = server.archive.index.listInstances({ studyUid: KEPT });
    await rm(join(server.dataDir, String(later?.storageKey)));
    expect((await delSeries(DELETED, `${DELETED}.2`)).status).toBe(200);
    expect(await seriesOf(DELETED)).toEqual([`${DELETED}.1`]);
  });

  test('deleting a series still succeeds when the study\'s remaining instances cannot be read (files lost), its attributes as they were', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    // Series 2 is the newer: its instance sets the study's attributes once series 1 is deleted, but its file is lost.
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    expect((await postStow(`${server.baseUrl}/studies`, [otherSeries(DELETED, 1), otherSeries(DELETED, 2)])).status).toBe(200);
    for (const lost of server.archive.index.listInstances({ studyUid: DELETED, seriesUid: `${DELETED}.2` })) {
      await rm(join(server.dataDir, lost.storageKey));
    }
    expect((await delSeries(DELETED, `${DELETED}.1`)).status).toBe(200);
    expect(await seriesOf(DELETED)).toEqual([`${DELETED}.2`]);
    const [study] = (await (await fetch(`${server.baseUrl}/studies?StudyInstanceUID=${DELETED}`)).json()) as Record<string, { Value: unknown[] }>[];
    expect(study?.['00100020']?.Value).toEqual(['DEL-1']);
    expect(study?.['00201208']?.Value).toEqual([2]);
  });

  test('a frame read that loses the race with the series\' deletion answers 404, not 500', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1), otherSeries(DELETED, 1)])).status).toBe(200);
    const { archive } = server;
    const read = archive.blobs.read.bind(archive.blobs);
    // The deletion lands between the read's index lookup and its file read.
    archive.blobs.read = async (key: string) => {
      archive.blobs.read = read;
      await archive.deleteSeries(DELETED, `${DELETED}.2`);
      return read(key);
    };
    const res = await fetch(`${server.baseUrl}/studies/${DELETED}/series/${DELETED}.2/instances/${DELETED}.2.1/frames/1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
  });

  test('deleting a study\'s last series removes the study and, with its last study, the patient', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(KEPT, 1, 'KEEP-1'), slice(DELETED, 1, 'GONE-1')])).status).toBe(200);
    expect((await delSeries(DELETED, `${DELETED}.1`)).status).toBe(200);
    expect((await (await fetch(`${server.baseUrl}/studies`)).json() as unknown[]).length).toBe(1);
    expect(existsSync(join(server.dataDir, 'instances', DELETED))).toBe(false);
    const db = new Database(join(server.dataDir, 'index.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT patient_id AS id FROM patients').all()).toEqual([{ id: 'KEEP-1' }]);
    } finally {
      db.close();
    }
  });

  test('answers 404 for a series the study does not have (another study\'s included), 405 while deleting is off, 409 while busy', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(KEPT, 1), slice(DELETED, 1)])).status).toBe(200);
    expect((await delSeries(DELETED, `${KEPT}.1`)).status).toBe(404);
    expect((await delSeries(DELETED, '2.25.1')).status).toBe(404);
    expect(await seriesOf(KEPT)).toEqual([`${KEPT}.1`]);
    await server.stop();

    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    const off = await delSeries(DELETED, `${DELETED}.1`);
    expect([off.status, off.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    await server.stop();

    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, undefined,
      { studyDeletionGuard: () => Promise.resolve('its analysis (job seg-2) is queued') });
    expect((await postStow(`${server.baseUrl}/studies`, [slice(DELETED, 1)])).status).toBe(200);
    const busy = await delSeries(DELETED, `${DELETED}.1`);
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ code: 'MIPSEG_STUDY_BUSY' });
    expect(await seriesOf(DELETED)).toEqual([`${DELETED}.1`]);
  });
});

describe('DELETE /dicomweb/studies/{study}/series/{series}/instances/{instance}', () => {
  let server: TestArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const SERIES = `${DELETED}.1`;
  // The deleted instance's UID begins its neighbour's: only whole file names may match.
  const [GONE, NEIGHBOUR] = [`${SERIES}.7`, `${SERIES}.7.1`];
  const instance = (sop: string, z: number, stored?: number[]) => Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: SERIES,
    imagePositionPatient: [0, 0, z], ...(stored ? { stored } : {}), attributes: { StudyInstanceUID: DELETED, PatientID: 'DEL-1' } }));
  const delInstance = (study: string, series: string, sop: string) =>
    fetch(`${server?.baseUrl}/studies/${study}/series/${series}/instances/${sop}`, { method: 'DELETE' });
  const filesOf = (...folder: string[]): string[] => {
    const dir = join(server?.dataDir as string, ...folder);
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  };

  test('removes one instance (row, file, cached metadata, retired copies), keeps its neighbours, and logs who asked', async () => {
    const lines: LogLine[] = [];
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as LogLine) }));
    const base = server.baseUrl;
    expect((await postStow(`${base}/studies`, [instance(GONE, 1), instance(NEIGHBOUR, 2), instance(`${SERIES}.8`, 3)])).status).toBe(200);
    expect((await postStow(`${base}/studies`, [instance(GONE, 1, [9]), instance(NEIGHBOUR, 2, [9])])).status).toBe(202); // retired copies
    expect((await fetch(`${base}/studies/${DELETED}/series/${SERIES}/metadata`)).status).toBe(200); // cached metadata
    expect(filesOf('instances', DELETED, SERIES).filter((f) => f.startsWith(`${GONE}.`)).length).toBeGreaterThan(2);

    const res = await delInstance(DELETED, SERIES, GONE);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ studyInstanceUid: DELETED, seriesInstanceUid: SERIES, sopInstanceUid: GONE, deletedInstances: 1 });

    expect((await fetch(`${base}/studies/${DELETED}/series/${SERIES}/instances/${GONE}/metadata`)).status).toBe(404);
    const left = (await (await fetch(`${base}/studies/${DELETED}/series/${SERIES}/instances`)).json()) as Record<string, { Value: string[] }>[];
    expect(left.map((r) => r['00080018']?.Value[0]).sort()).toEqual([NEIGHBOUR, `${SERIES}.8`]);
    const [study] = (await (await fetch(`${base}/studies?StudyInstanceUID=${DELETED}`)).json()) as Record<string, { Value: number[] }>[];
    expect(study?.['00201208']?.Value[0]).toBe(2);
    expect(filesOf('instances', DELETED, SERIES).filter((f) => f.startsWith(`${GONE}.`) && !f.startsWith(`${NEIGHBOUR}.`))).toEqual([]);
    const retired = retiredFolders(server.dataDir).flatMap((folder) => (existsSync(join(folder, DELETED, SERIES)) ? readdirSync(join(folder, DELETED, SERIES)) : []));
    expect(retired.map((f) => f.slice(0, NEIGHBOUR.length + 5))).toEqual([`${NEIGHBOUR}.dcm.`]);
    expect((await fetch(`${base}/studies/${DELETED}/series/${SERIES}/instances/${NEIGHBOUR}/metadata`)).status).toBe(200);
    expect(lines.filter((l) => l.msg === 'instance deleted').map((l) => [l.studyInstanceUid, l.requestId !== undefined])).toEqual([[DELETED, true]]);
  });

  test('deleting a series\' last instance removes the series, and with the study\'s last series the study', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [instance(GONE, 1), slice(KEPT, 1)])).status).toBe(200);
    expect((await delInstance(DELETED, SERIES, GONE)).status).toBe(200);
    const rows = (await (await fetch(`${server.baseUrl}/studies`)).json()) as Record<string, { Value: string[] }>[];
    expect(rows.map((r) => r['0020000D']?.Value[0])).toEqual([KEPT]);
    expect(existsSync(join(server.dataDir, 'instances', DELETED))).toBe(false);
  });

  test('answers 404 for an instance of another series or study, 405 while deleting is off, 409 while busy, 400 for a bad UID', async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    expect((await postStow(`${server.baseUrl}/studies`, [instance(GONE, 1), slice(KEPT, 1)])).status).toBe(200);
    expect((await delInstance(DELETED, `${KEPT}.1`, GONE)).status).toBe(404);
    expect((await delInstance(KEPT, SERIES, GONE)).status).toBe(404);
    expect((await delInstance(DELETED, SERIES, `${KEPT}.1.1`)).status).toBe(404);
    expect((await delInstance(DELETED, SERIES, '1.2.x')).status).toBe(400);
    expect((await fetch(`${server.baseUrl}/studies/${DELETED}/series/${SERIES}/instances/${GONE}/metadata`)).status).toBe(200);
    await server.stop();

    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [instance(GONE, 1)])).status).toBe(200);
    const off = await delInstance(DELETED, SERIES, GONE);
    expect([off.status, off.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    await server.stop();

    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' }, undefined,
      { studyDeletionGuard: () => Promise.resolve('its analysis (job seg-2) is running') });
    expect((await postStow(`${server.baseUrl}/studies`, [instance(GONE, 1)])).status).toBe(200);
    const busy = await delInstance(DELETED, SERIES, GONE);
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ code: 'MIPSEG_STUDY_BUSY' });
  });
});
