import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { listFiles, sendFiles } from '../../services/cli/src/send';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { startOrthanc, type OrthancServer } from '../support/orthanc';
import { describeWithSharedData, sharedData } from '../support/shared-data';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
/** Orthanc's rendering of a remote QIDO answer: per tag {Name, vr, Value}, Value a string (several values joined by a backslash). */
type OrthancQidoAnswer = Record<string, { vr: string; Name?: string; Value?: string | unknown[] }>;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A tag's value as text, whether the plugin gives it as a string (1.x) or as a DICOM JSON array. */
function tagText(answer: OrthancQidoAnswer | undefined, tag: string): string | undefined {
  const value = answer?.[tag]?.Value;
  return Array.isArray(value) ? value.map(String).join('\\') : value;
}

/** Orthanc's DICOMweb plugin as a *client* of mipseg: what a PACS that pulls from us would do. */
describeWithSharedData(GE)('Orthanc queries and retrieves from mipseg over DICOMweb', () => {
  let mipseg: TestArchiveServer;
  let orthanc: OrthancServer;
  let originals: Buffer[];

  beforeAll(async () => {
    const files = (await listFiles(sharedData(GE).path)).filter((f) => f.endsWith('.dcm'));
    originals = await Promise.all(files.map((f) => readFile(f)));
    mipseg = await startTestArchive();
    const sent = await sendFiles(files, { url: mipseg.baseUrl, batchSize: 50, progress: false });
    expect(sent.stored).toBe(267);
    orthanc = await startOrthanc({ dicomWebServers: { mipseg: `${mipseg.baseUrl}/` } });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([orthanc?.stop(), mipseg?.stop()]);
  });

  const qido = (uri: string, args: Record<string, string> = {}) =>
    orthanc.rest<OrthancQidoAnswer[]>('POST', '/dicom-web/servers/mipseg/qido', { Uri: uri, Arguments: args });

  // Orthanc 1.10.1's DICOMweb plugin 1.7 drops IS/DS values sent as JSON numbers (PS3.18 F.2.3) from a remote
  // QIDO answer, its own DICOMweb server's answers included, so the counts are checked in test/archive instead.
  test('finds the study with its patient, date, modality and RetrieveURL through QIDO', async () => {
    const studies = await qido('/studies');
    expect(studies).toHaveLength(1);
    const study = studies[0];
    expect(tagText(study, '00100020')).toBe('STS_001');
    expect(tagText(study, '00080061')).toBe('PT');
    expect(tagText(study, '00080020')).toBe('20000907');
    expect(tagText(study, '0020000D')).toMatch(/^1\.3\.6\.1\.4\.1\.14519\./);
    expect(tagText(study, '00081190')).toContain(mipseg.baseUrl);
    expect(await qido('/studies', { PatientID: 'STS*', StudyDate: '20000101-20001231' })).toHaveLength(1);
    expect(await qido('/studies', { PatientID: 'NOBODY*' })).toHaveLength(0);
  });

  test('finds the PET series of the study through QIDO', async () => {
    const [study] = await qido('/studies');
    const series = await qido(`/studies/${String(tagText(study, '0020000D'))}/series`);
    expect(series).toHaveLength(1);
    expect(tagText(series[0], '00080060')).toBe('PT');
    expect(tagText(series[0], '0008103E')).toBe('PET AC');
    expect(tagText(series[0], '0020000D')).toBe(tagText(study, '0020000D'));
  });

  test('retrieves the series into Orthanc with every instance byte-identical', async () => {
    const [series] = await qido('/series');
    const Study = String(tagText(series, '0020000D'));
    const Series = String(tagText(series, '0020000E'));
    await orthanc.rest('POST', '/dicom-web/servers/mipseg/retrieve', { Resources: [{ Study, Series }] });

    const stored = await orthanc.rest<string[]>('GET', '/series');
    expect(stored).toHaveLength(1);
    const detail = await orthanc.rest<{ Instances: string[]; MainDicomTags: Record<string, string> }>('GET', `/series/${stored[0]}`);
    expect(detail.MainDicomTags['SeriesInstanceUID']).toBe(Series);
    expect(detail.Instances).toHaveLength(267);
    expect(await orthanc.rest<string[]>('GET', '/instances')).toHaveLength(267);

    const retrieved = await Promise.all(detail.Instances.map(async (id) => {
      const res = await fetch(`${orthanc.restUrl}/instances/${id}/file`);
      expect(res.status).toBe(200);
      return sha(Buffer.from(await res.arrayBuffer()));
    }));
    expect(new Set(retrieved)).toEqual(new Set(originals.map(sha)));
  });
});
