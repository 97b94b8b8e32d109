import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendInstancesDimse } from '@mipseg/dimse';
import { SopClass } from '@mipseg/shared/dicom';
import { SCP_AE_TITLE, startTestDimse, syntheticInstance, type TestDimse } from './dimse-test-kit';

/**
 * By C-STORE the File Meta is written from the command's Affected SOP Instance UID: a sender whose Affected UID is not
 * the data set's SOPInstanceUID (mipseg's SCU takes it from a File Meta an anonymiser left stale) is told so in words
 * that name the attribute it sent, within ErrorComment's 64 characters, with 0xC000 as by STOW.
 */
describe('C-STORE of a data set whose SOPInstanceUID is not the Affected SOP Instance UID', () => {
  let dimse: TestDimse;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'mipseg-uid-mismatch-'));
    dimse = await startTestDimse();
  });
  afterAll(async () => {
    await dimse?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('is refused with 0xC000 and an ErrorComment naming AffectedSOPInstanceUID, and nothing is stored', async () => {
    const bytes = syntheticInstance({ sopClassUid: SopClass.PositronEmissionTomographyImageStorage, sopInstanceUid: '2.25.7101', modality: 'PT' });
    // The File Meta comes first: its MediaStorageSOPInstanceUID, which the SCU sends as the Affected one, goes stale.
    const at = bytes.indexOf('2.25.7101', 0, 'latin1');
    bytes.write('2.25.7102', at, 'latin1');
    const path = join(scratch, 'stale-meta.dcm');
    await writeFile(path, bytes);
    const [result] = await sendInstancesDimse({ host: '127.0.0.1', port: dimse.port, callingAeTitle: 'MIPSEG_SCU',
      calledAeTitle: SCP_AE_TITLE, files: [path] });
    expect(result).toMatchObject({ outcome: 'failed', status: 0xc000 });
    expect(result?.reason).toContain('SOPInstanceUID differs from MediaStorage/AffectedSOPInstanceUID');
    expect(dimse.archive.index.findInstance('2.25.7101')).toBeUndefined();
    expect(dimse.archive.index.findInstance('2.25.7102')).toBeUndefined();
  });
});
