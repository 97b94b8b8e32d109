import { readFileSync } from 'node:fs';
import * as dicomParser from 'dicom-parser';
// dicomweb-client talks XMLHttpRequest, which Node lacks; xhr2 provides it.
import XMLHttpRequest from 'xhr2';
import { api } from 'dicomweb-client';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = XMLHttpRequest;

/** 23 columns × 38 rows: 874 bits a frame, so frames 2 and 3 start inside a byte of Pixel Data. */
const SEG = 'data/seg-examples/dcmqi-segmentations_23x38x3_seg_label.seg';

interface FrameUids {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
}

// The library's declarations type its promise-returning methods as plain values; this is what they return.
interface Client {
  retrieveInstanceFrames(o: FrameUids & { frameNumbers: number[] }): Promise<ArrayBuffer[]>;
}

/** Every bit of Pixel Data as 0/1, least significant bit of each byte first (PS3.5 8.1.1). */
function allBits(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from({ length: bytes.length * 8 }, (_, i) => ((bytes[Math.floor(i / 8)] as number) >> (i % 8)) & 1);
}

/** What the test needs of the file, read independently of the gateway's own pixel-data code. */
function readSeg(file: Buffer): { uids: FrameUids; bitsPerFrame: number; pixelData: Uint8Array; numberOfFramesOffset: number } {
  const ds = dicomParser.parseDicom(file);
  const text = (tag: string) => (ds.string(tag) ?? '').replace(/\0/g, '').trim();
  const pixel = ds.elements['x7fe00010'];
  if (!pixel) throw new Error(`${SEG} has no Pixel Data`);
  return {
    uids: { studyInstanceUID: text('x0020000d'), seriesInstanceUID: text('x0020000e'), sopInstanceUID: text('x00080018') },
    bitsPerFrame: (ds.uint16('x00280010') ?? 0) * (ds.uint16('x00280011') ?? 0),
    pixelData: file.subarray(pixel.dataOffset, pixel.dataOffset + pixel.length),
    numberOfFramesOffset: ds.elements['x00280008']?.dataOffset ?? -1,
  };
}

describeWithSharedData(SEG)('WADO-RS frames of a BINARY SEG whose frames are not byte-aligned', () => {
  let seg: ReturnType<typeof readSeg>;
  let server: TestArchiveServer;
  let client: Client;
  let file: Buffer;
  const trueFrame = (f: number) => [...allBits(seg.pixelData).subarray((f - 1) * seg.bitsPerFrame, f * seg.bitsPerFrame)];

  beforeAll(async () => {
    // Read here, not in the describe body, which Jest runs even when the data is absent and the block skipped.
    file = readFileSync(sharedData(SEG).path);
    seg = readSeg(file);
    server = await startTestArchive();
    client = new api.DICOMwebClient({ url: server.baseUrl, singlepart: false }) as unknown as Client;
    const stored = await postStow(`${server.baseUrl}/studies`, [file]);
    expect(stored.status).toBe(200);
  });
  afterAll(() => server.stop());

  test('serves frames 1, 2 and 3 each re-packed from bit 0, equal to the frame unpacked from Pixel Data', async () => {
    expect(seg.bitsPerFrame).toBe(874);
    expect(seg.pixelData).toHaveLength(328);
    const frames = await client.retrieveInstanceFrames({ ...seg.uids, frameNumbers: [1, 2, 3] });
    const served = frames.map((f) => allBits(new Uint8Array(f)));
    // Pixels of every frame first, so a wrong frame start shows as wrong pixels; then lengths and pad bits.
    served.forEach((bits, k) => expect({ frame: k + 1, pixels: [...bits.subarray(0, 874)] }).toEqual({ frame: k + 1, pixels: trueFrame(k + 1) }));
    expect(frames.map((f) => f.byteLength)).toEqual([110, 110, 110]);
    served.forEach((bits) => expect([...bits.subarray(874)]).toEqual([0, 0, 0, 0, 0, 0]));
  });

  test('answers 404 for frame 4 of 3, alone or in a list', async () => {
    const { studyInstanceUID, seriesInstanceUID, sopInstanceUID } = seg.uids;
    const url = `${server.baseUrl}/studies/${studyInstanceUID}/series/${seriesInstanceUID}/instances/${sopInstanceUID}`;
    const accept = { Accept: 'multipart/related; type="application/octet-stream"' };
    expect((await fetch(`${url}/frames/4`, { headers: accept })).status).toBe(404);
    expect((await fetch(`${url}/frames/1,4`, { headers: accept })).status).toBe(404);
  });

  test('answers 404, not a short frame, where NumberOfFrames claims a frame that Pixel Data lacks', async () => {
    // The same file with NumberOfFrames "3 " patched to "4 ", in an archive of its own.
    const patched = Buffer.from(file);
    expect(patched.toString('latin1', seg.numberOfFramesOffset, seg.numberOfFramesOffset + 2)).toBe('3 ');
    patched.write('4', seg.numberOfFramesOffset, 'latin1');
    const other = await startTestArchive();
    try {
      expect((await postStow(`${other.baseUrl}/studies`, [patched])).status).toBe(200);
      const { studyInstanceUID, seriesInstanceUID, sopInstanceUID } = seg.uids;
      const url = `${other.baseUrl}/studies/${studyInstanceUID}/series/${seriesInstanceUID}/instances/${sopInstanceUID}`;
      const accept = { Accept: 'multipart/related; type="application/octet-stream"' };
      expect((await fetch(`${url}/frames/3`, { headers: accept })).status).toBe(200);
      expect((await fetch(`${url}/frames/4`, { headers: accept })).status).toBe(404);
    } finally {
      await other.stop();
    }
  });
});
