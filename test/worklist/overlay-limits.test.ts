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

  test('is drawn for a MIP-sized SEG and refused (400) for one of 3000 × 3000 pixels', async () => {
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
    const stored = await postStow(`${server.root}/dicomweb/studies`, [Buffer.from(seg.bytes), largeBytes]);
    expect(stored.status).toBe(200);
    const overlay = (sop: string) => fetch(`${server.root}/api/studies/${source.StudyInstanceUID}/overlay.png?seg=${sop}`);
    expect((await overlay(String(readNatural(seg.bytes)['SOPInstanceUID']))).status).toBe(200);
    const refused = await overlay(String(large['SOPInstanceUID']));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'MIPSEG_SEG_UNSUPPORTED' });
  });
});
