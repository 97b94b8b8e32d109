import { writePart10 } from '../../services/worker/src/dicom-output/part10';
import { writeMipInstance } from '../../services/worker/src/dicom-output/write-mip-instance';
import { writeSegInstance } from '../../services/worker/src/dicom-output/write-seg-instance';
import { ALGORITHM, EQUIPMENT, readNatural, syntheticMip, syntheticSource } from '../pipeline/dicom-output/synthetic-source';
import { postStow } from '../support/stow';
import { startWorklistServer, type WorklistServer } from './worklist-server';

describe('the worklist overlay of a SEG stored by STOW-RS', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(() => server.stop());

  test('is drawn for a MIP-sized SEG and refused (400) for one of 3000 × 3000 pixels or of 40 frames of 2048 × 2048', async () => {
    const source = syntheticSource();
    const mip = syntheticMip(5, 3);
    const mipOut = writeMipInstance(mip, source, { equipment: EQUIPMENT });
    const seg = writeSegInstance(Uint8Array.from({ length: 15 }, (_, i) => (i === 0 ? 1 : 0)), { ...mipOut, geometry: mip }, source,
      { equipment: EQUIPMENT, algorithm: ALGORITHM });
    const large = readNatural(seg.bytes);
    large['SOPInstanceUID'] = `${String(large['SOPInstanceUID'])}.9`;
    large['Rows'] = 3000;
    large['Columns'] = 3000;
    large['PixelData'] = [new ArrayBuffer((3000 * 3000) / 8)];
    large['_vrMap'] = { PixelData: 'OB' };
    const largeBytes = Buffer.from(writePart10(large));
    // Frames within the pixel bound, but 40 of them: a 20 MiB file, 40 × 4 M pixels to unpack on the gateway's thread.
    const manyFrames = readNatural(seg.bytes);
    manyFrames['SOPInstanceUID'] = `${String(manyFrames['SOPInstanceUID'])}.8`;
    manyFrames['Rows'] = 2048;
    manyFrames['Columns'] = 2048;
    manyFrames['NumberOfFrames'] = 40;
    manyFrames['PixelData'] = [new ArrayBuffer((2048 * 2048 * 40) / 8)];
    manyFrames['_vrMap'] = { PixelData: 'OB' };
    const manyFramesBytes = Buffer.from(writePart10(manyFrames));
    const stored = await postStow(`${server.root}/dicomweb/studies`, [Buffer.from(seg.bytes), largeBytes, manyFramesBytes]);
    expect(stored.status).toBe(200);
    const overlay = (sop: string) => fetch(`${server.root}/api/studies/${source.StudyInstanceUID}/overlay.png?seg=${sop}`);
    const segSop = String(readNatural(seg.bytes)['SOPInstanceUID']);
    const drawn = await overlay(segSop);
    expect(drawn.status).toBe(200);
    // Revalidated: 304 while the SEG and the drawing stay the same. The tag is the drawing's, not the SEG file's (which
    // the file download gives): after an upgrade that draws differently, a browser must not be told its old PNG holds.
    const etag = drawn.headers.get('etag') ?? '';
    const again = await fetch(`${server.root}/api/studies/${source.StudyInstanceUID}/overlay.png?seg=${segSop}`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    const [file] = server.archive.index.listInstances({ studyUid: String(source.StudyInstanceUID), sopInstanceUid: segSop });
    const download = await fetch(`${server.root}/api/studies/${source.StudyInstanceUID}/series/${file?.seriesInstanceUid}/instances/${segSop}/file`);
    expect(download.headers.get('etag')).not.toBe(etag);
    for (const sop of [large['SOPInstanceUID'], manyFrames['SOPInstanceUID']]) {
      const refused = await overlay(String(sop));
      expect({ sop, status: refused.status, body: await refused.json() as unknown }).toMatchObject({ sop, status: 400, body: { code: 'MIPSEG_SEG_UNSUPPORTED' } });
    }
  });
});
