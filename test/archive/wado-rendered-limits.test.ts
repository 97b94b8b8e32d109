import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { MAX_RENDERED_PIXELS } from '../../services/gateway/src/dicomweb/render';
import { dcmtkConvert, encapsulatedFrame, encapsulateFrame } from '../pipeline/volume/encapsulated-copies';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const STUDY = '2.25.700';
const SERIES = '2.25.7301';

/** A synthetic PET slice of the series here (zeros unless `stored` says otherwise). */
function slice(sop: string, rows: number, columns: number, attributes: Record<string, unknown> = {}): Uint8Array {
  return syntheticPetInstance({ sopInstanceUid: `${SERIES}.${sop}`, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0], rows, columns, attributes });
}

// A 2,000-byte JPEG-LS file of 8192 x 8192 pixels kept the gateway busy for minutes and took over a gigabyte to draw.
describe('WADO-RS /rendered of frames too large to draw, and what HEAD refuses from the header', () => {
  let server: TestArchiveServer;
  let dir: string;
  const url = (sop: string, path = 'rendered'): string =>
    `${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SERIES}.${sop}/${path}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-rendered-limits-'));
    server = await startTestArchive();
    const small = slice('4', 8, 8, { HighBit: 14 });
    const smallJls = encapsulatedFrame(dcmtkConvert('dcmcjpls', [], slice('9', 8, 8), dir, 'small'));
    const instances = [
      slice('1', 2049, 2048),
      dcmtkConvert('dcmcjpls', [], slice('2', 2049, 2048), dir, 'large'),
      slice('3', 2048, 2048),
      // JPEG-LS under HighBit 14 with BitsStored 16: the codecs decode only HighBit = BitsStored - 1.
      encapsulateFrame(small, TransferSyntax.JpegLsLossless, smallJls),
      // NumberOfFrames 0: one frame, as GET counts encapsulated frames.
      encapsulateFrame(slice('5', 8, 8, { NumberOfFrames: 0 }), TransferSyntax.JpegLsLossless, smallJls),
    ];
    const stored = await postStow(`${server.baseUrl}/studies`, instances.map((b) => Buffer.from(b)));
    expect(stored.status).toBe(200);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test.each([
    ['native', '1'],
    ['JPEG-LS (a 2 KB file)', '2'],
  ])('a %s frame of 2048 x 2049 is refused by GET and HEAD, naming its size and the cap, before any byte of it is read',
    async (_kind, sop) => {
      const reads = [jest.spyOn(server.archive.blobs, 'read'), jest.spyOn(server.archive.blobs, 'openRanged')];
      try {
        const get = await fetch(url(sop), { headers: { Accept: 'image/png' } });
        const body = await get.json() as Record<string, unknown>;
        expect({ status: get.status, code: body['code'] }).toEqual({ status: 422, code: 'MIPSEG_RENDER_UNSUPPORTED' });
        expect(JSON.stringify(body)).toContain(`2048 x 2049 pixels (4196352): /rendered draws at most ${MAX_RENDERED_PIXELS} pixels`);
        const head = await fetch(url(sop), { method: 'HEAD', headers: { Accept: 'image/png' } });
        expect(head.status).toBe(422);
        for (const read of reads) expect(read).not.toHaveBeenCalled();
      } finally {
        for (const read of reads) read.mockRestore();
      }
    });

  test('a frame of exactly the cap (2048 x 2048) is drawn', async () => {
    const res = await fetch(url('3'), { headers: { Accept: 'image/png' } });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'image/png']);
    await res.arrayBuffer();
  });

  test('HEAD refuses compressed samples the codecs do not decode (HighBit not BitsStored - 1) as GET does', async () => {
    const get = await fetch(url('4'), { headers: { Accept: 'image/png' } });
    expect(get.status).toBe(422);
    await get.arrayBuffer();
    const head = await fetch(url('4'), { method: 'HEAD', headers: { Accept: 'image/png' } });
    expect(head.status).toBe(422);
  });

  test('HEAD counts an encapsulated instance\'s frames as GET does (NumberOfFrames 0 holds one frame)', async () => {
    const get = await fetch(url('5'), { headers: { Accept: 'image/png' } });
    expect(get.status).toBe(200);
    await get.arrayBuffer();
    const head = await fetch(url('5'), { method: 'HEAD', headers: { Accept: 'image/png' } });
    expect(head.status).toBe(200);
    const past = await fetch(url('5', 'frames/2/rendered'), { method: 'HEAD', headers: { Accept: 'image/png' } });
    expect(past.status).toBe(404);
  });
});
