import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const STUDY = '2.25.700'; // syntheticPetInstance's study
const SERIES = '2.25.8831';

describe('WADO-RS metadata and QIDO-RS: the media type answered is one the client accepts', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
    const pet = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.8832', seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0] }));
    expect((await postStow(`${server.baseUrl}/studies`, [pet])).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('a client that refuses application/dicom+json (q=0) and takes */* gets the JSON labelled application/json', async () => {
    const url = `${server.baseUrl}/studies/${STUDY}/series/${SERIES}/metadata`;
    const refused = await fetch(url, { headers: { Accept: 'application/dicom+json;q=0, */*' } });
    expect(refused.status).toBe(200);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json\b/);
    const [instance] = (await refused.json()) as Record<string, unknown>[];
    expect(instance?.['0020000E']).toEqual({ vr: 'UI', Value: [SERIES] });
    const plain = await fetch(url, { headers: { Accept: '*/*' } });
    expect(plain.headers.get('content-type')).toMatch(/^application\/dicom\+json\b/);
    expect(plain.headers.get('etag')).not.toBe(refused.headers.get('etag'));
  });

  test('a QIDO-RS search from a client that refuses application/dicom+json (q=0) and takes */* is labelled application/json', async () => {
    const refused = await fetch(`${server.baseUrl}/studies?StudyInstanceUID=${STUDY}`, { headers: { Accept: 'application/dicom+json;q=0, */*' } });
    expect(refused.status).toBe(200);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(((await refused.json()) as Record<string, unknown>[])[0]?.['0020000D']).toEqual({ vr: 'UI', Value: [STUDY] });
    const plain = await fetch(`${server.baseUrl}/studies?StudyInstanceUID=${STUDY}`, { headers: { Accept: 'application/json' } });
    expect(plain.headers.get('content-type')).toMatch(/^application\/dicom\+json\b/);
  });
});
