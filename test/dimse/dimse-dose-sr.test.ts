import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUid } from '@mipseg/shared/dicom';
import { buildDoseSr, type DoseSrInstance } from '../support/dose-sr';
import { dataSetOf, runTool, SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from './dimse-test-kit';

describe('C-STORE of radiation dose SR documents with storescu', () => {
  let dimse: TestDimse;
  let scratch: string;
  let reports: DoseSrInstance[];
  let files: string[];

  beforeAll(async () => {
    dimse = await startTestDimse();
    scratch = await mkdtemp(join(tmpdir(), 'mipseg-dose-sr-'));
    const studyInstanceUid = newUid();
    reports = [buildDoseSr('radiopharmaceutical', { studyInstanceUid }), buildDoseSr('x-ray', { studyInstanceUid })];
    files = await Promise.all(reports.map(async (r, i) => {
      const file = join(scratch, `dose-${i}.dcm`);
      await writeFile(file, r.bytes);
      return file;
    }));
  });
  afterAll(async () => {
    await dimse?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('accepts the Radiopharmaceutical and X-Ray Radiation Dose SR contexts and stores both (status Success)', async () => {
    // -R: propose the input files' own SOP classes only; storescu's default list of 64 storage classes lacks
    // the dose SR classes, so without it the run fails on storescu's side whatever the SCP accepts.
    const run = await runTool('storescu', ['-v', '-R', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), ...files]);
    expect(run.output).not.toMatch(/No presentation context|Acceptable Presentation Context/i);
    expect(run.code).toBe(0);
    expect(run.output.match(/Received Store Response \(Success\)/g)).toHaveLength(2);
    for (const r of reports) {
      expect(dimse.archive.index.findInstance(r.sopInstanceUid)).toMatchObject({ sopClassUid: r.sopClassUid, seriesInstanceUid: r.seriesInstanceUid });
      expect(dataSetOf(await storedFile(dimse, r.sopInstanceUid)).equals(dataSetOf(r.bytes))).toBe(true);
    }
    expect(await dimse.tempFiles()).toEqual([]);
  });
});
