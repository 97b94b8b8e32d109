import { INDEXED_ATTRIBUTES, type InstanceHeader } from '@mipseg/shared/dicom';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { watchMetadataReads } from '../support/metadata-reads';

type Json = Record<string, { vr: string; Value?: unknown[] }>;

const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
/** Study A: a CT series of one image and a PET series of three. Study B: a PET series of two. */
const A = '2.25.71001';
const B = '2.25.71002';
const EMPTY_VALUES = Object.fromEntries(INDEXED_ATTRIBUTES.map((a) => [a.column, null]));

const STUDY_VALUES = {
  [A]: { patient_name: 'Garcia^Maria', patient_id: 'MRN-A', accession_number: 'ACC-A', study_id: 'S-A', timezone_offset: '+0200' },
  [B]: { patient_name: 'Okafor^John', patient_id: 'MRN-B', accession_number: 'ACC-B', study_id: 'S-B', timezone_offset: '-0500' },
};

/** An instance as the index holds it (no file: the tests show that no result needs one). */
function header(study: typeof A | typeof B, modality: 'CT' | 'PT', instanceNumber: number): InstanceHeader {
  const seriesNumber = modality === 'CT' ? 1 : 2;
  const series = `${study}.${seriesNumber}`;
  const sop = `${series}.${instanceNumber}`;
  const sopClassUid = modality === 'CT' ? CT_IMAGE_STORAGE : PET_IMAGE_STORAGE;
  return {
    transferSyntaxUid: '1.2.840.10008.1.2.1', mediaStorageSopClassUid: sopClassUid, mediaStorageSopInstanceUid: sop,
    studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, sopClassUid, modality, encapsulated: false, hasPixelData: true,
    values: {
      ...EMPTY_VALUES, ...STUDY_VALUES[study], patient_birth_date: '19610203', patient_sex: 'F', study_date: '20250611',
      study_time: '081500', referring_physician_name: 'Rossi^Paolo', modality, series_description: `${modality} WB`,
      series_number: seriesNumber, pps_start_date: '20250611', pps_start_time: '083000', instance_number: instanceNumber,
      rows: 128, columns: 128, bits_allocated: 16,
    },
  };
}

const value = (result: Json | undefined, tag: string): unknown => result?.[tag]?.Value?.[0];
const uidOf = (tag: string) => (result: Json) => String(value(result, tag));

/** Table 10.6.3-3: what a study result carries, and All Series and All Instances results with it. */
const STUDY_TAGS = ['00080020', '00080030', '00080050', '00080056', '00080061', '00080090', '00080201', '00100010', '00100020',
  '00100030', '00100040', '0020000D', '00200010', '00201206', '00201208'];
/** Table 10.6.3-4: what a series result carries, and All Instances and Study's Instances results with it. */
const SERIES_TAGS = ['00080060', '0008103E', '0020000E', '00200011', '00201209', '00400244', '00400245'];

describe('QIDO-RS results of All Series, All Instances and Study\'s Instances carry their parents\' attributes (PS3.18 10.6.3.3)', () => {
  let server: TestArchiveServer;
  const search = async (path: string): Promise<{ results: Json[]; warning: string | null }> => {
    const res = await fetch(`${server.baseUrl}${path}`);
    expect(res.status).toBe(200);
    return { results: (await res.json()) as Json[], warning: res.headers.get('warning') };
  };
  /** Runs `during`, then checks that no result needed an instance's metadata: the index holds all of it. */
  const withoutMetadataReads = async (during: () => Promise<void>) => {
    expect((await watchMetadataReads(server.archive, during)).calls).toBe(0);
  };

  beforeAll(async () => {
    server = await startTestArchive();
    const file = (h: InstanceHeader) => ({ storageKey: `instances/${h.sopInstanceUid}.dcm`, size: 1024, sha256: '0'.repeat(64) });
    const headers = [header(A, 'CT', 1), header(A, 'PT', 1), header(A, 'PT', 2), header(A, 'PT', 3), header(B, 'PT', 1), header(B, 'PT', 2)];
    for (const h of headers) server.archive.index.putInstance(h, file(h));
  });
  afterAll(() => server.stop());

  test('All Series (/series) carry the study\'s attributes, counts and ModalitiesInStudy; RetrieveURL stays the series\'', async () => {
    await withoutMetadataReads(async () => {
      const { results } = await search('/series');
      expect(results.map(uidOf('0020000E')).sort()).toEqual([`${A}.1`, `${A}.2`, `${B}.2`]);
      for (const result of results) expect(Object.keys(result)).toEqual(expect.arrayContaining([...STUDY_TAGS, ...SERIES_TAGS]));
      const byUid = new Map(results.map((r) => [uidOf('0020000E')(r), r]));
      const ctOfA = byUid.get(`${A}.1`);
      expect(STUDY_TAGS.map((tag) => [tag, ctOfA?.[tag]?.Value])).toEqual([
        ['00080020', ['20250611']], ['00080030', ['081500']], ['00080050', ['ACC-A']], ['00080056', ['ONLINE']],
        ['00080061', ['CT', 'PT']], ['00080090', [{ Alphabetic: 'Rossi^Paolo' }]], ['00080201', ['+0200']],
        ['00100010', [{ Alphabetic: 'Garcia^Maria' }]], ['00100020', ['MRN-A']], ['00100030', ['19610203']], ['00100040', ['F']],
        ['0020000D', [A]], ['00200010', ['S-A']], ['00201206', [2]], ['00201208', [4]],
      ]);
      const ofB = byUid.get(`${B}.2`);
      expect([value(ofB, '00100020'), ofB?.['00080061']?.Value, value(ofB, '00201206'), value(ofB, '00201208'), value(ofB, '00201209')])
        .toEqual(['MRN-B', ['PT'], 1, 2, 2]);
      expect(value(ctOfA, '00081190')).toBe(`${server.baseUrl}/studies/${A}/series/${A}.1`);
    });
  });

  test('All Instances (/instances) carry the study\'s and the series\' attributes, and TimezoneOffsetFromUTC', async () => {
    await withoutMetadataReads(async () => {
      const { results } = await search('/instances?limit=1');
      expect(results).toHaveLength(1);
      const [first] = results;
      expect(Object.keys(first ?? {})).toEqual(expect.arrayContaining([...STUDY_TAGS, ...SERIES_TAGS, '00080016', '00080018', '00200013']));
      const all = (await search('/instances')).results;
      const ptOfB = all.find((r) => value(r, '00080018') === `${B}.2.2`);
      expect(['00100010', '00080050', '00080061', '00201208', '00080060', '00200011', '00201209', '00080201', '00081190']
        .map((tag) => ptOfB?.[tag]?.Value)).toEqual([[{ Alphabetic: 'Okafor^John' }], ['ACC-B'], ['PT'], [2], ['PT'], [2], [2], ['-0500'],
        [`${server.baseUrl}/studies/${B}/series/${B}.2/instances/${B}.2.2`]]);
    });
  });

  test('Study\'s Instances carry the series\' attributes; a series\' instances carry TimezoneOffsetFromUTC', async () => {
    await withoutMetadataReads(async () => {
      const { results } = await search(`/studies/${A}/instances`);
      expect(results).toHaveLength(4);
      for (const result of results) expect(Object.keys(result)).toEqual(expect.arrayContaining(SERIES_TAGS));
      const ct = results.find((r) => value(r, '0020000E') === `${A}.1`);
      expect(SERIES_TAGS.map((tag) => ct?.[tag]?.Value)).toEqual([['CT'], ['CT WB'], [`${A}.1`], [1], [1], ['20250611'], ['083000']]);
      const inSeries = (await search(`/studies/${A}/series/${A}.2/instances`)).results;
      expect(inSeries.map((r) => value(r, '00080201'))).toEqual(['+0200', '+0200', '+0200']);
    });
  });

  test('an includefield of a lower level is not returned, with a Warning; of a higher level, it is, counts too', async () => {
    await withoutMetadataReads(async () => {
      const studies = await search(`/studies?StudyInstanceUID=${A}&includefield=Modality,SOPClassUID,NumberOfSeriesRelatedInstances`);
      expect(studies.results).toHaveLength(1);
      expect(['00080060', '00080016', '00201209'].filter((tag) => tag in (studies.results[0] ?? {}))).toEqual([]);
      expect(studies.warning).toMatch(/includefield=Modality: series-level attribute, not returned by a study-level search/);
      expect(studies.warning).toMatch(/includefield=SOPClassUID: instance-level attribute/);
      const series = await search(`/studies/${A}/series?includefield=SOPClassUID,NumberOfStudyRelatedInstances,AccessionNumber`);
      expect(series.results.map((r) => ['00080016' in r, value(r, '00201208'), value(r, '00080050')]))
        .toEqual([[false, 4, 'ACC-A'], [false, 4, 'ACC-A']]);
      expect(series.warning).toMatch(/includefield=SOPClassUID: instance-level attribute, not returned by a series-level search/);
      const instances = await search(`/studies/${A}/series/${A}.1/instances?includefield=NumberOfStudyRelatedSeries`);
      expect(instances.results.map((r) => value(r, '00201206'))).toEqual([2]);
      expect(instances.warning).toBeNull();
    });
  });
});
