import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendInstancesDimse } from '@mipseg/dimse';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

const STUDY = '2.25.9910';

function slice(sop: string, series: string, patientId: string, study = STUDY): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: series, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: study, PatientID: patientId } }));
}

describe('C-STORE refusals of what the archive holds otherwise', () => {
  let dimse: TestDimse;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'mipseg-dimse-refusals-'));
    dimse = await startTestDimse();
  });
  afterAll(async () => {
    await dimse?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  const send = async (...files: Buffer[]) => sendInstancesDimse({ host: '127.0.0.1', port: dimse.port, callingAeTitle: 'REFUSALS_SCU',
    calledAeTitle: SCP_AE_TITLE, files: await Promise.all(files.map(async (bytes, i) => {
      const path = join(scratch, `${Date.now()}-${i}.dcm`);
      await writeFile(path, bytes);
      return path;
    })) });

  test('a new series under another PatientID than its study\'s is refused with a Cxxx status naming both IDs', async () => {
    const [first] = await send(slice(`${STUDY}.1.1`, `${STUDY}.1`, 'STS_001'));
    expect(first).toMatchObject({ outcome: 'sent', status: 0 });
    const [other] = await send(slice(`${STUDY}.2.1`, `${STUDY}.2`, 'OTHER-PATIENT-ID'));
    expect(other).toMatchObject({ outcome: 'failed', status: 0xc411, reason: 'PatientID OTHER-PATIENT-ID, the study\'s STS_001' });
    expect(dimse.archive.index.findInstance(`${STUDY}.2.1`)).toBeUndefined();
  });

  test('a SOP Instance UID stored under another series answers a C-STORE status (0xC410), not the N-CREATE one 0x0111', async () => {
    const [conflict] = await send(slice(`${STUDY}.1.1`, `${STUDY}.3`, 'STS_001'));
    expect(conflict).toMatchObject({ outcome: 'failed', status: 0xc410, reason: expect.stringMatching(/stored in series 2\.25\.9910\.1/) });
    expect(dimse.archive.index.findInstance(`${STUDY}.1.1`)?.seriesInstanceUid).toBe(`${STUDY}.1`);
  });
});
