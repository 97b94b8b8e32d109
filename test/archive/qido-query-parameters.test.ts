import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

type Json = Record<string, { vr: string; Value?: unknown[] }>;

const STUDIES = ['2.25.7801', '2.25.7802', '2.25.7803'];

function slice(study: string): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${study}.1.1`, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: study, PatientName: 'Keys^Test', PatientID: `ID-${study}` } }));
}

/** How QIDO-RS reads its query parameters (PS3.18 8.3): repeated keys, paging, keys it does not know. */
describe('QIDO-RS query parameters', () => {
  let server: TestArchiveServer;
  const search = (path: string, query: string) => fetch(`${server.baseUrl}${path}?${query}`);
  const studyUids = async (res: Response) => ((await res.json()) as Json[]).map((r) => String(r['0020000D']?.Value?.[0])).sort();

  beforeAll(async () => {
    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, STUDIES.map(slice))).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('a repeated UID key is a UID list, each value one of its elements (PS3.18 8.3.4)', async () => {
    const res = await search('/studies', `StudyInstanceUID=${STUDIES[0]}&StudyInstanceUID=${STUDIES[2]}`);
    expect(res.status).toBe(200);
    expect(await studyUids(res)).toEqual([STUDIES[0], STUDIES[2]]);
    const instances = await search('/instances', `SOPInstanceUID=${STUDIES[0]}.1.1&SOPInstanceUID=${STUDIES[1]}.1.1,${STUDIES[2]}.1.1`);
    expect(instances.status).toBe(200);
    expect(await studyUids(instances)).toEqual(STUDIES);
    const series = await search('/series', `SeriesInstanceUID=${STUDIES[1]}.1&SeriesInstanceUID=`);
    expect(await studyUids(series)).toEqual([STUDIES[1]]);
  });

  test('a repeated key of an attribute without UID list matching stays 400', async () => {
    const res = await search('/studies', 'PatientID=ID-2.25.7801&PatientID=ID-2.25.7802');
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/PatientID given more than once/);
    expect((await search('/studies', 'limit=1&limit=2')).status).toBe(400);
  });

  test('limit=0 answers no results and no Warning to page on, which would name this same request (PS3.18 8.3.4.4.1)', async () => {
    const res = await search('/studies', 'PatientName=Keys^Test&limit=0');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
    expect(res.headers.get('warning')).toBeNull();
    const paged = await search('/studies', 'PatientName=Keys^Test&limit=1&offset=1');
    expect(await studyUids(paged)).toEqual([STUDIES[1]]);
    expect(paged.headers.get('warning')).toMatch(/repeat with offset=2/);
  });

  test('a parameter that is no DICOM keyword or tag is ignored with a Warning (PS3.18 8.3); a bad value of a known key stays 400', async () => {
    const res = await search('/studies', `StudyInstanceUID=${STUDIES[0]}&_=12345&_=67890&multiplevaluematching=true`);
    expect(res.status).toBe(200);
    expect(await studyUids(res)).toEqual([STUDIES[0]]);
    const warning = res.headers.get('warning') ?? '';
    expect(warning).toMatch(/_ is neither a DICOM keyword or tag nor a QIDO-RS parameter; ignored/);
    expect(warning).toMatch(/multiplevaluematching is neither/);
    expect((await search('/studies', '_=1&StudyDate=2024')).status).toBe(400);
    expect((await search('/studies', '_=1&limit=ten')).status).toBe(400);
    expect((await search('/studies', 'includefield=NoSuchKeyword')).status).toBe(400);
  });
});
