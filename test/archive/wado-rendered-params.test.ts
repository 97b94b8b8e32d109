import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const STUDY = '2.25.700'; // syntheticPetInstance's study
const SERIES = '2.25.8821';
const SOP = '2.25.8822';

// A client that asks for a quality (of a PNG) or annotations and gets something else must be told so (PS3.18 rendered
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

  test('quality is named in a Warning for a PNG, which is lossless', async () => {
    const res = await fetch(`${url}/rendered?quality=50`, { headers: { Accept: 'image/png' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toMatch(/^299 mipseg ".*quality.*"$/);
  });

  /** The frame's greys, row by row, as a PNG with a fixed window draws them with `query`. */
  async function greyRows(query: string): Promise<{ rows: number[][]; warning: string | null }> {
    const res = await fetch(`${url}/rendered?window=500,1000${query}`, { headers: { Accept: 'image/png' } });
    expect(res.status).toBe(200);
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
    const greys = [...png.data.filter((_, i) => i % 4 === 0)];
    return { rows: Array.from({ length: png.height }, (_, r) => greys.slice(r * png.width, (r + 1) * png.width)), warning: res.headers.get('warning') };
  }

  test('viewport crops to the source region (sx,sy,sw,sh), flips it where sw or sh is negative, without a Warning', async () => {
    const { rows: whole } = await greyRows('');
    const at = (r: number, c: number) => whole[r]?.[c];
    const cropped = await greyRows('&viewport=3,2,2,5,3,2');
    expect(cropped).toEqual({ rows: [[at(5, 2), at(5, 3), at(5, 4)], [at(6, 2), at(6, 3), at(6, 4)]], warning: null });
    const flipped = await greyRows('&viewport=3,2,2,5,-3,-2');
    expect(flipped.rows).toEqual([[at(6, 4), at(6, 3), at(6, 2)], [at(5, 4), at(5, 3), at(5, 2)]]);
  });

  test('viewport takes sx, sy, sw, sh as decimals by their absolute values, and 3 to 5 values with the rest left out', async () => {
    const { rows: whole } = await greyRows('');
    const at = (r: number, c: number) => whole[r]?.[c];
    const expected = [[at(5, 2), at(5, 3), at(5, 4)], [at(6, 2), at(6, 3), at(6, 4)], [at(7, 2), at(7, 3), at(7, 4)]];
    expect((await greyRows('&viewport=3,3,2,5,3')).rows).toEqual(expected);
    expect((await greyRows('&viewport=3,3,-2.0,-5,3.0')).rows).toEqual(expected);
  });

  // An 8 × 8 frame at viewport=4096,4096 was drawn at 16.7 million pixels: about a second of work and 265 MB a request.
  test('viewport enlarges to at most 1024 × 1024 pixels, and a Warning says so', async () => {
    for (const accept of ['image/png', 'image/jpeg']) {
      const res = await fetch(`${url}/rendered?viewport=4096,4096`, { headers: { Accept: accept } });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      const { width, height } = accept === 'image/png' ? PNG.sync.read(body) : jpeg.decode(body);
      expect([width, height]).toEqual([1024, 1024]);
      expect(res.headers.get('warning')).toMatch(/^299 mipseg ".*viewport \(drawn at 1024x1024, not enlarged past 1048576 pixels\).*"$/);
    }
  });

  test('viewport scales the image to fit vw × vh, keeping its aspect ratio, as PNG and as JPEG', async () => {
    const size = async (accept: string, viewport: string) => {
      const res = await fetch(`${url}/rendered?viewport=${viewport}`, { headers: { Accept: accept } });
      const body = Buffer.from(await res.arrayBuffer());
      const { width, height } = accept === 'image/png' ? PNG.sync.read(body) : jpeg.decode(body);
      return [res.status, width, height];
    };
    expect(await size('image/png', '32,64')).toEqual([200, 32, 32]);
    expect(await size('image/jpeg', '64,20')).toEqual([200, 20, 20]);
    expect(await size('image/png', '64,64,0,0,2,8')).toEqual([200, 16, 64]);
    expect(await size('image/jpeg', '4,4')).toEqual([200, 4, 4]);
  });

  test('a viewport is part of the rendered image\'s ETag: the full-size copy does not answer 304 for it', async () => {
    const full = await fetch(`${url}/rendered`, { headers: { Accept: 'image/png' } });
    const etag = full.headers.get('etag') ?? '';
    const scaled = await fetch(`${url}/rendered?viewport=4,4`, { headers: { Accept: 'image/png', 'If-None-Match': etag } });
    expect(scaled.status).toBe(200);
  });

  test('a malformed viewport, or a region outside the image, is a 400 that says what is wrong', async () => {
    const answer = async (viewport: string) => {
      const res = await fetch(`${url}/rendered?viewport=${viewport}`, { headers: { Accept: 'image/png' } });
      return { status: res.status, body: await res.json() as { code: string; message: string } };
    };
    expect(await answer('64')).toMatchObject({ status: 400, body: { code: 'MIPSEG_BAD_QUERY', message: expect.stringMatching(/1 values/) as unknown } });
    expect(await answer('64,abc')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/vh is not an integer/) as unknown } });
    expect(await answer('64,64,6,0,4,4')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/run past the image's 8 pixels/) as unknown } });
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
