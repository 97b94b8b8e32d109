import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileMetaInformation, TransferSyntax } from '@mipseg/shared/dicom';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { runTool, SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from './dimse-test-kit';

/**
 * A modality sends a study to mipseg by STOW-RS (or a PACS forwards it) and the PACS auto-routes the same study
 * by C-STORE: the second copy has other File Meta and, here, Implicit VR. It is the same instance, so the stored
 * copy stays and nothing is analysed again; a copy whose content differs still replaces it.
 */
describe('C-STORE of an instance already stored in another encoding', () => {
  let dimse: TestDimse;
  let dir: string;
  const stored: string[] = [];
  beforeAll(async () => {
    dimse = await startTestDimse();
    dimse.archive.onInstanceStored((header) => stored.push(header.sopInstanceUid));
    dir = mkdtempSync(join(tmpdir(), 'mipseg-resend-'));
  });
  afterAll(async () => {
    await dimse.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const storescuImplicit = (file: string) => runTool('storescu', ['-xi', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), file]);

  test('is acknowledged and changes nothing: same file kept, nothing retired, no new store event', async () => {
    const original = syntheticPetInstance({ sopInstanceUid: '2.25.8901', imagePositionPatient: [0, 0, 0], stored: [1, 2, 3, 4] });
    const path = join(dir, 'original.dcm');
    writeFileSync(path, original);
    writeFileSync(join(dimse.dataDir, 'tmp', 'stow.part'), original); // stored as STOW-RS stores it: the bytes as sent
    expect((await dimse.archive.storeFromTemp(join(dimse.dataDir, 'tmp', 'stow.part'))).status).toBe('stored');
    stored.length = 0;

    const run = await storescuImplicit(path);
    expect(run.code).toBe(0);
    const kept = await storedFile(dimse, '2.25.8901');
    expect(kept.equals(Buffer.from(original))).toBe(true);
    expect(readFileMetaInformation(kept).transferSyntaxUid).toBe(TransferSyntax.ExplicitVrLittleEndian);
    expect(existsSync(join(dimse.dataDir, 'retired'))).toBe(false);
    expect(stored).toEqual([]);
    expect(await dimse.tempFiles()).toEqual([]);
  });

  test('a JPEG Lossless copy (storescu -xs, as a PACS auto-routes its copy) changes nothing: same file kept, no new store event', async () => {
    const original = syntheticPetInstance({ sopInstanceUid: '2.25.8902', imagePositionPatient: [0, 0, 0], stored: [7, -3, 30000, 4] });
    writeFileSync(join(dimse.dataDir, 'tmp', 'stow.part'), original);
    expect((await dimse.archive.storeFromTemp(join(dimse.dataDir, 'tmp', 'stow.part'))).status).toBe('stored');
    writeFileSync(join(dir, 'original-8902.dcm'), original);
    expect((await runTool('dcmcjpeg', [join(dir, 'original-8902.dcm'), join(dir, 'jpeg-lossless.dcm')])).code).toBe(0);
    stored.length = 0;

    const run = await runTool('storescu', ['-xs', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), join(dir, 'jpeg-lossless.dcm')]);
    expect(run.code).toBe(0);
    expect((await storedFile(dimse, '2.25.8902')).equals(Buffer.from(original))).toBe(true);
    expect(stored).toEqual([]);
    expect(await dimse.tempFiles()).toEqual([]);
  });

  test('with a changed value it replaces the stored copy, as before', async () => {
    const changed = syntheticPetInstance({ sopInstanceUid: '2.25.8901', imagePositionPatient: [0, 0, 0], stored: [1, 2, 3, 5] });
    const path = join(dir, 'changed.dcm');
    writeFileSync(path, changed);
    stored.length = 0;

    expect((await storescuImplicit(path)).code).toBe(0);
    expect(readFileMetaInformation(await storedFile(dimse, '2.25.8901')).transferSyntaxUid).toBe(TransferSyntax.ImplicitVrLittleEndian);
    expect(existsSync(join(dimse.dataDir, 'retired'))).toBe(true);
    expect(stored).toEqual(['2.25.8901']);
  });
});
