import * as dicomParser from 'dicom-parser';
import { walkFileMeta } from '../../shared/src/dicom/file-meta';
import { encodeFileMetaInformation, fileMetaUids, newUid } from '@mipseg/shared/dicom';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { buildDoseSr, type DoseSrInstance } from '../support/dose-sr';
import { postStow, type StowReply } from '../support/stow';
import { syntheticInstance } from '../dimse/dimse-test-kit';

type Json = Record<string, { vr: string; Value?: unknown[] }>;

// syntheticInstance puts its PET instance in this study; the dose reports join it, as a scanner sends them.
const STUDY = '2.25.1001';
const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';

async function getJson(url: string): Promise<Json[]> {
  const res = await fetch(url, { headers: { Accept: 'application/dicom+json' } });
  expect(res.status).toBe(200);
  return (await res.json()) as Json[];
}

describe('radiation dose SR documents through DICOMweb', () => {
  let server: TestArchiveServer;
  let reports: DoseSrInstance[];
  let reply: StowReply;

  beforeAll(async () => {
    server = await startTestArchive();
    // Of the PET's patient (syntheticInstance's PatientID): an instance of another patient is refused in the study.
    reports = [buildDoseSr('radiopharmaceutical', { studyInstanceUid: STUDY, patientId: 'MIPSEG-TEST' }),
      buildDoseSr('x-ray', { studyInstanceUid: STUDY, patientId: 'MIPSEG-TEST' })];
    const pet = syntheticInstance({ sopClassUid: PET_IMAGE_STORAGE, sopInstanceUid: newUid(), modality: 'PT' });
    reply = await postStow(`${server.baseUrl}/studies`, [pet, ...reports.map((r) => r.bytes)]);
  });
  afterAll(() => server?.stop());

  test('STOW-RS stores the Radiopharmaceutical and X-Ray Radiation Dose SR with the PET study (200)', () => {
    expect(reply.body?.['00081198']).toBeUndefined();
    expect(reply.status).toBe(200);
    const referenced = (reply.body?.['00081199']?.Value ?? []).map((item) =>
      [item['00081150']?.Value?.[0], item['00081155']?.Value?.[0]]);
    for (const r of reports) expect(referenced).toContainEqual([r.sopClassUid, r.sopInstanceUid]);
  });

  test('QIDO lists each dose report as a series with Modality SR, and SR among ModalitiesInStudy', async () => {
    const [study] = await getJson(`${server.baseUrl}/studies?StudyInstanceUID=${STUDY}`);
    expect([...(study?.['00080061']?.Value ?? [])].sort()).toEqual(['PT', 'SR']);
    expect(study?.['00201208']?.Value).toEqual([3]);
    expect(await getJson(`${server.baseUrl}/studies?ModalitiesInStudy=SR`)).toHaveLength(1);
    const series = await getJson(`${server.baseUrl}/studies/${STUDY}/series?Modality=SR`);
    expect(series.map((s) => s['0020000E']?.Value?.[0]).sort()).toEqual(reports.map((r) => r.seriesInstanceUid).sort());
    for (const r of reports) {
      const [instance] = await getJson(`${server.baseUrl}/studies/${STUDY}/series/${r.seriesInstanceUid}/instances`);
      expect(instance?.['00080016']?.Value).toEqual([r.sopClassUid]);
    }
  });

  test('WADO-RS returns a dose report byte-identical and its metadata with the SR content tree', async () => {
    for (const r of reports) {
      const url = `${server.baseUrl}/studies/${STUDY}/series/${r.seriesInstanceUid}/instances/${r.sopInstanceUid}`;
      const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).indexOf(r.bytes)).toBeGreaterThan(0);
      const [metadata] = await getJson(`${url}/metadata`);
      expect(metadata?.['00080060']?.Value).toEqual(['SR']);
      expect(metadata?.['0040A730']?.vr).toBe('SQ');
      expect(metadata?.['0040A730']?.Value?.length).toBeGreaterThan(0);
      expect(metadata?.['7FE00010']).toBeUndefined();
    }
  });

  test('/rendered and /frames of a dose report answer a client error with a code, not a crash', async () => {
    const [r] = reports as [DoseSrInstance];
    const url = `${server.baseUrl}/studies/${STUDY}/series/${r.seriesInstanceUid}/instances/${r.sopInstanceUid}`;
    for (const [path, accept] of [['rendered', 'image/png'], ['frames/1', 'multipart/related; type="application/octet-stream"']]) {
      const res = await fetch(`${url}/${path}`, { headers: { Accept: accept as string } });
      // The instance is there (not 404): the error is about what it holds, no Pixel Data.
      expect([path, res.status >= 400 && res.status < 500 && res.status !== 404]).toEqual([path, true]);
      expect(((await res.json()) as { code?: string }).code).toMatch(/^MIPSEG_/);
    }
    expect((await fetch(`${server.baseUrl.replace('/dicomweb', '')}/healthz`)).status).toBe(200);
  });

  test('a re-send cut short at an element boundary is refused (0xC000) and the stored report kept', async () => {
    const [r] = reports as [DoseSrInstance];
    // The end of the last top-level element before the content tree: a cut there parses as a whole file.
    const parsed = dicomParser.parseDicom(new Uint8Array(r.bytes));
    const ends = Object.entries(parsed.elements).filter(([tag]) => tag < 'x0040a730').map(([, e]) => e.dataOffset + e.length);
    const cut = r.bytes.subarray(0, Math.max(...ends));
    expect(() => dicomParser.parseDicom(new Uint8Array(cut))).not.toThrow();
    const refused = await postStow(`${server.baseUrl}/studies`, [cut]);
    expect(refused.status).toBe(400);
    expect(refused.body?.['00081198']?.Value?.[0]?.['00081197']?.Value).toEqual([0xc000]);
    const url = `${server.baseUrl}/studies/${STUDY}/series/${r.seriesInstanceUid}/instances/${r.sopInstanceUid}`;
    const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    expect(Buffer.from(await res.arrayBuffer()).indexOf(r.bytes)).toBeGreaterThan(0);
    // The same cut behind another sender's File Meta (as a copy from another client, or by C-STORE, carries).
    const otherMeta = withOwnFileMeta(cut);
    expect(otherMeta.subarray(0, 300).equals(r.bytes.subarray(0, 300))).toBe(false);
    const alsoRefused = await postStow(`${server.baseUrl}/studies`, [otherMeta]);
    expect(alsoRefused.body?.['00081198']?.Value?.[0]?.['00081197']?.Value).toEqual([0xc000]);
  });
});

/** `bytes` behind a File Meta of mipseg's own writing (another implementation's name than the sender's), its data set as it was. */
function withOwnFileMeta(bytes: Buffer): Buffer {
  const { sopClassUid, sopInstanceUid } = fileMetaUids(bytes);
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: String(sopClassUid), mediaStorageSopInstanceUid: String(sopInstanceUid),
    transferSyntaxUid: '1.2.840.10008.1.2.1' });
  return Buffer.concat([meta, bytes.subarray(walkFileMeta(bytes).dataSetOffset)]);
}
