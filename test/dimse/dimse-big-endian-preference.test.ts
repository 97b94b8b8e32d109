import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileMetaInformation, TransferSyntax } from '@mipseg/shared/dicom';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { runTool, SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from './dimse-test-kit';

/**
 * `storescu -xb -R` proposes Explicit VR Big Endian in one presentation context and Explicit and Implicit VR Little
 * Endian in another for the same SOP class, and sends an Implicit VR file on the first accepted. The worker does not
 * decode Big Endian, so that context is rejected (PS3.8 9.3.3.2, result 4) and the sender uses the little-endian one.
 */
describe('C-STORE from an SCU proposing Big Endian and Little Endian in separate contexts', () => {
  let dimse: TestDimse;
  let dir: string;
  let implicitFile: string;
  beforeAll(async () => {
    dimse = await startTestDimse();
    dir = mkdtempSync(join(tmpdir(), 'mipseg-big-endian-'));
    const explicitFile = join(dir, 'pet-explicit.dcm');
    implicitFile = join(dir, 'pet-implicit.dcm');
    writeFileSync(explicitFile, syntheticPetInstance({ sopInstanceUid: '2.25.8801', imagePositionPatient: [0, 0, 0], stored: [1, 2, 3, 4] }));
    expect((await runTool('dcmconv', ['+ti', explicitFile, implicitFile])).code).toBe(0);
  });
  afterAll(async () => {
    await dimse.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const storescuProposingBigEndian = () =>
    runTool('storescu', ['-xb', '-R', '-aec', SCP_AE_TITLE, '-aet', 'TESTSCU', '127.0.0.1', String(dimse.port), implicitFile]);

  test('a PET instance arrives in Little Endian (which the worker decodes), not Big Endian', async () => {
    expect((await storescuProposingBigEndian()).code).toBe(0);
    expect(readFileMetaInformation(await storedFile(dimse, '2.25.8801')).transferSyntaxUid).toBe(TransferSyntax.ExplicitVrLittleEndian);
  });

  test('sent again the same way, it is the same copy: nothing replaced, nothing retired', async () => {
    expect((await storescuProposingBigEndian()).code).toBe(0);
    expect(readFileMetaInformation(await storedFile(dimse, '2.25.8801')).transferSyntaxUid).toBe(TransferSyntax.ExplicitVrLittleEndian);
    expect(existsSync(join(dimse.dataDir, 'retired'))).toBe(false);
  });
});
