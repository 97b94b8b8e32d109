import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import { PNG } from 'pngjs';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { dcmtkConvert, encapsulatedFrame, encapsulateFrame, jpeg2000Copy } from '../pipeline/volume/encapsulated-copies';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const GE_SLICE = 'data/pet-dicom/ge-discovery-st-wholebody/1-001.dcm';
const SERIES = '2.25.97710';

/** A copy of `instance` under another SOP Instance UID (and series), so that each compressed copy is stored beside it. */
function withSopInstanceUid(instance: Uint8Array, sopInstanceUid: string): Uint8Array {
  const file = dcmjs.data.DicomMessage.readFile(instance.buffer.slice(instance.byteOffset, instance.byteOffset + instance.byteLength) as ArrayBuffer);
  file.meta['00020003'] = { vr: 'UI', Value: [sopInstanceUid] };
  file.dict['00080018'] = { vr: 'UI', Value: [sopInstanceUid] };
  file.dict['0020000E'] = { vr: 'UI', Value: [SERIES] };
  return new Uint8Array(file.write());
}

function studyUidOf(instance: Uint8Array): string {
  const file = dcmjs.data.DicomMessage.readFile(instance.buffer.slice(instance.byteOffset, instance.byteOffset + instance.byteLength) as ArrayBuffer);
  return String(file.dict['0020000D']?.Value?.[0]);
}

/** The copies compared, by what makes them: each a lossless transfer syntax mipseg decodes. */
const LOSSLESS: ReadonlyArray<readonly [string, string, (native: Uint8Array, dir: string) => Uint8Array]> = [
  ['JPEG Lossless Process 14', TransferSyntax.JpegLossless, (b, dir) => dcmtkConvert('dcmcjpeg', ['+el'], b, dir, 'p14')],
  ['JPEG Lossless SV1', TransferSyntax.JpegLosslessSv1, (b, dir) => dcmtkConvert('dcmcjpeg', [], b, dir, 'sv1')],
  ['JPEG-LS lossless', TransferSyntax.JpegLsLossless, (b, dir) => dcmtkConvert('dcmcjpls', [], b, dir, 'jls')],
  ['RLE Lossless', TransferSyntax.RleLossless, (b, dir) => dcmtkConvert('dcmcrle', [], b, dir, 'rle')],
  ['JPEG 2000 lossless', TransferSyntax.Jpeg2000Lossless,
    (b) => jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: false })],
];

/** The transfer syntax a copy's File Meta names. */
function transferSyntaxOf(instance: Uint8Array): string {
  const file = dcmjs.data.DicomMessage.readFile(instance.buffer.slice(instance.byteOffset, instance.byteOffset + instance.byteLength) as ArrayBuffer);
  return String(file.meta['00020010']?.Value?.[0]);
}

// PACS auto-routing often sends PET/CT as JPEG Lossless or JPEG 2000: a viewer or the worklist asking for a
// rendered frame of one got a 422.
describeWithSharedData(GE_SLICE)('WADO-RS /rendered of compressed instances', () => {
  let server: TestArchiveServer;
  let dir: string;
  let base: string;
  const url = (sop: string, path = 'rendered'): string => `${base}/instances/${sop}/${path}`;

  beforeAll(async () => {
    // Read here, not in the describe body, which Jest runs even when the data is absent and the block skipped.
    const original = new Uint8Array(readFileSync(sharedData(GE_SLICE).path));
    dir = mkdtempSync(join(tmpdir(), 'mipseg-rendered-compressed-'));
    server = await startTestArchive();
    base = `${server.baseUrl}/studies/${studyUidOf(original)}/series/${SERIES}`;
    const native = withSopInstanceUid(original, `${SERIES}.1`);
    const copies = LOSSLESS.map(([, syntax, make], k) => {
      const copy = make(withSopInstanceUid(original, `${SERIES}.${k + 2}`), dir);
      expect(transferSyntaxOf(copy)).toBe(syntax);
      return copy;
    });
    const rle = copies[3] as Uint8Array;
    // The RLE frame cut in half: its segments end inside their runs.
    const cut = encapsulatedFrame(rle);
    const corrupt = encapsulateFrame(withSopInstanceUid(original, `${SERIES}.99`), TransferSyntax.RleLossless, cut.subarray(0, cut.length >> 1));
    const stored = await postStow(`${server.baseUrl}/studies`, [native, ...copies, corrupt].map((b) => Buffer.from(b)));
    expect(stored.status).toBe(200);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function renderedPng(address: string): Promise<{ width: number; height: number; data: Buffer }> {
    const res = await fetch(address, { headers: { Accept: 'image/png' } });
    expect({ address, status: res.status }).toEqual({ address, status: 200 });
    return PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  }

  test.each(LOSSLESS.map(([name], k) => [name, k + 2] as const))(
    'draws a %s copy pixel for pixel as the uncompressed original, as /rendered and /frames/1/rendered', async (_name, k) => {
      const original = await renderedPng(url(`${SERIES}.1`));
      for (const path of ['rendered', 'frames/1/rendered', 'rendered?window=2000,4000']) {
        const expected = path === 'rendered?window=2000,4000' ? await renderedPng(url(`${SERIES}.1`, path)) : original;
        const drawn = await renderedPng(url(`${SERIES}.${k}`, path));
        expect([drawn.width, drawn.height]).toEqual([expected.width, expected.height]);
        expect(drawn.data.equals(expected.data)).toBe(true);
      }
      // Not a blank image equal to another blank one.
      expect(new Set(original.data).size).toBeGreaterThan(10);
    });

  test('answers 422 MIPSEG_RENDER_UNSUPPORTED naming the codec for a frame that cannot be decoded', async () => {
    const res = await fetch(url(`${SERIES}.99`), { headers: { Accept: 'image/png' } });
    const body = await res.json() as Record<string, unknown>;
    expect({ status: res.status, code: body['code'] }).toEqual({ status: 422, code: 'MIPSEG_RENDER_UNSUPPORTED' });
    expect(JSON.stringify(body)).toMatch(/RLE Lossless data cannot be decoded \(segment \d/);
  });

  test('HEAD answers with the GET\'s type and ETag from the header alone, decoding nothing (a frame that cannot be decoded too)',
    async () => {
      const get = await fetch(url(`${SERIES}.4`), { headers: { Accept: 'image/png' } });
      await get.arrayBuffer();
      const head = await fetch(url(`${SERIES}.4`), { method: 'HEAD', headers: { Accept: 'image/png' } });
      expect([head.status, head.headers.get('content-type'), head.headers.get('etag')])
        .toEqual([200, 'image/png', get.headers.get('etag')]);
      const unread = await fetch(url(`${SERIES}.99`), { method: 'HEAD', headers: { Accept: 'image/png' } });
      expect([unread.status, unread.headers.get('content-type')]).toEqual([200, 'image/png']);
    });

  test('HEAD of an uncompressed instance reads no whole file, and 404s a frame past the last as GET does', async () => {
    const read = jest.spyOn(server.archive.blobs, 'read');
    try {
      const head = await fetch(url(`${SERIES}.1`), { method: 'HEAD', headers: { Accept: 'image/png' } });
      expect([head.status, head.headers.get('content-type')]).toEqual([200, 'image/png']);
      expect(read).not.toHaveBeenCalled();
      const past = await fetch(url(`${SERIES}.1`, 'frames/2/rendered'), { method: 'HEAD', headers: { Accept: 'image/png' } });
      expect(past.status).toBe(404);
    } finally {
      read.mockRestore();
    }
  });
});
