import { readFileSync } from 'node:fs';
import * as dicomParser from 'dicom-parser';
import { PNG } from 'pngjs';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { buildDoseSr } from '../support/dose-sr';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { postStow } from '../support/stow';

/** 23 columns × 38 rows: 874 bits a frame, so frames 2 and 3 start inside a byte of Pixel Data. */
const BINARY = 'data/seg-examples/dcmqi-segmentations_23x38x3_seg_label.seg';
/** 16 × 16, BitsAllocated 8, MaximumFractionalValue 255, three frames. */
const FRACTIONAL = 'data/seg-examples/highdicom-seg_image_ct_binary_fractional.dcm';

interface Seg {
  readonly url: string;
  readonly rows: number;
  readonly columns: number;
  readonly pixelData: Uint8Array;
}

/** What the test needs of a SEG file, read with dicom-parser rather than the gateway's own pixel-data code. */
function readSeg(file: Buffer, baseUrl: string): Seg {
  const ds = dicomParser.parseDicom(file);
  const text = (tag: string) => (ds.string(tag) ?? '').replace(/\0/g, '').trim();
  const pixel = ds.elements['x7fe00010'];
  if (!pixel) throw new Error('no Pixel Data');
  return {
    url: `${baseUrl}/studies/${text('x0020000d')}/series/${text('x0020000e')}/instances/${text('x00080018')}`,
    rows: ds.uint16('x00280010') ?? 0,
    columns: ds.uint16('x00280011') ?? 0,
    pixelData: file.subarray(pixel.dataOffset, pixel.dataOffset + pixel.length),
  };
}

/** Frame `f` (1-based) of BitsAllocated 1 Pixel Data as 0/1, least significant bit first (PS3.5 8.1.1). */
function binaryFrame(seg: Seg, f: number): number[] {
  const n = seg.rows * seg.columns;
  return Array.from({ length: n }, (_, i) => {
    const bit = (f - 1) * n + i;
    return ((seg.pixelData[Math.floor(bit / 8)] as number) >> (bit % 8)) & 1;
  });
}

async function renderedGreys(url: string): Promise<{ status: number; width?: number; height?: number; greys?: number[] }> {
  const res = await fetch(url, { headers: { Accept: 'image/png' } });
  if (res.status !== 200) return { status: res.status };
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  return { status: 200, width: png.width, height: png.height, greys: [...png.data.filter((_, i) => i % 4 === 0)] };
}

describeWithSharedData(BINARY)('WADO-RS /rendered of a BINARY SEG whose frames are not byte-aligned', () => {
  let server: TestArchiveServer;
  let seg: Seg;
  beforeAll(async () => {
    server = await startTestArchive();
    const file = readFileSync(sharedData(BINARY).path);
    seg = readSeg(file, server.baseUrl);
    expect((await postStow(`${server.baseUrl}/studies`, [file])).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('renders each frame, and the instance as its first, with 0 black and 1 white', async () => {
    const expected = (f: number) => ({ status: 200, width: 23, height: 38, greys: binaryFrame(seg, f).map((b) => b * 255) });
    expect(await renderedGreys(`${seg.url}/rendered`)).toEqual(expected(1));
    for (const f of [1, 2, 3]) {
      const greys = await renderedGreys(`${seg.url}/frames/${f}/rendered`);
      expect({ frame: f, ...greys }).toEqual({ frame: f, ...expected(f) });
    }
    expect(binaryFrame(seg, 2)).toContain(1); // the frames compared are not all black
  });
});

describeWithSharedData(FRACTIONAL)('WADO-RS /rendered of a FRACTIONAL SEG', () => {
  let server: TestArchiveServer;
  let seg: Seg;
  beforeAll(async () => {
    server = await startTestArchive();
    const file = Buffer.from(readFileSync(sharedData(FRACTIONAL).path));
    seg = readSeg(file, server.baseUrl);
    // Frame 1 becomes a ramp 0..255: the example's own values are only 0 and 255, which any window shows alike.
    seg.pixelData.set(Uint8Array.from({ length: 256 }, (_, i) => i));
    expect((await postStow(`${server.baseUrl}/studies`, [file])).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('renders 0 black, MaximumFractionalValue (255) white and the fractions between as grey', async () => {
    for (const f of [1, 2, 3]) {
      const stored = [...seg.pixelData.subarray((f - 1) * 256, f * 256)];
      const greys = await renderedGreys(`${seg.url}/frames/${f}/rendered`);
      expect({ frame: f, ...greys }).toEqual({ frame: f, status: 200, width: 16, height: 16, greys: stored });
    }
  });
});

describe('WADO-RS /rendered of an instance mipseg cannot render', () => {
  let server: TestArchiveServer;
  beforeAll(async () => { server = await startTestArchive(); });
  afterAll(() => server.stop());

  test('answers 422 MIPSEG_RENDER_UNSUPPORTED, not 406, where the Accept asked for an image mipseg renders', async () => {
    const sr = buildDoseSr('radiopharmaceutical', { studyInstanceUid: '2.25.7301' });
    expect((await postStow(`${server.baseUrl}/studies`, [sr.bytes])).status).toBe(200);
    const res = await fetch(`${server.baseUrl}/studies/2.25.7301/series/${sr.seriesInstanceUid}/instances/${sr.sopInstanceUid}/rendered`,
      { headers: { Accept: 'image/png' } });
    expect({ status: res.status, body: await res.json() as unknown }).toMatchObject({ status: 422, body: { code: 'MIPSEG_RENDER_UNSUPPORTED' } });
  });
});
