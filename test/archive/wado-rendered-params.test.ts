import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';
import { PNG } from 'pngjs';

const STUDY = '2.25.700'; // syntheticPetInstance's study
const SERIES = '2.25.8821';
const SOP = '2.25.8822';

// A client that asks for a viewport or a quality and gets something else must be told so (PS3.18 rendered
// parameters), not left to believe the picture is what it asked for.
describe('WADO-RS /rendered query parameters', () => {
  let server: TestArchiveServer;
  let url: string;
  beforeAll(async () => {
    server = await startTestArchive();
    url = `${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SOP}`;
    const twoFrames = Buffer.from(syntheticPetInstance({
      sopInstanceUid: SOP, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0], rows: 8, columns: 8, numberOfFrames: 2,
      stored: Array.from({ length: 128 }, (_, i) => (i * 37) % 1000),
    }));
    expect((await postStow(`${server.baseUrl}/studies`, [twoFrames])).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('a viewport it does not apply is named in a Warning; quality is named for a PNG, which is lossless', async () => {
    const res = await fetch(`${url}/rendered?viewport=2,2&quality=50`, { headers: { Accept: 'image/png' } });
    expect(res.status).toBe(200);
    expect(PNG.sync.read(Buffer.from(await res.arrayBuffer()))).toMatchObject({ width: 8, height: 8 });
    expect(res.headers.get('warning')).toMatch(/^299 mipseg ".*viewport.*"$/);
    expect(res.headers.get('warning')).toMatch(/quality/);
  });

  test('no Warning where every parameter is applied', async () => {
    const res = await fetch(`${url}/rendered?window=100,200`, { headers: { Accept: 'image/png' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toBeNull();
  });

  test('quality sets the JPEG quality, without a Warning; out of 1..100 it is a 400', async () => {
    const jpeg = async (query: string) => {
      const res = await fetch(`${url}/rendered${query}`, { headers: { Accept: 'image/jpeg' } });
      return { status: res.status, warning: res.headers.get('warning'), bytes: Buffer.from(await res.arrayBuffer()) };
    };
    const [low, high] = [await jpeg('?quality=5'), await jpeg('?quality=100')];
    expect([low.status, low.warning, high.status, high.warning]).toEqual([200, null, 200, null]);
    expect(low.bytes.length).toBeLessThan(high.bytes.length);
    expect((await jpeg('?quality=0')).status).toBe(400);
    expect((await jpeg('?quality=101')).status).toBe(400);
  });

  test('/frames/{list}/rendered of more than one frame is a 400: PNG and JPEG hold one frame', async () => {
    const res = await fetch(`${url}/frames/1,2/rendered`, { headers: { Accept: 'image/png' } });
    expect({ status: res.status, body: await res.json() as unknown }).toMatchObject({ status: 400, body: { code: 'MIPSEG_BAD_QUERY' } });
    expect((await fetch(`${url}/frames/2/rendered`, { headers: { Accept: 'image/png' } })).status).toBe(200);
  });
});
