import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileMetaInformation, TransferSyntax } from '@mipseg/shared/dicom';
import { sharedData } from '../support/shared-data';
import { runTool, SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from './dimse-test-kit';

const reference = sharedData('data/pet-dicom/singles');

interface Outcome {
  readonly file: string;
  readonly stored: boolean;
  /** storescu's words for the C-STORE response, or for why nothing was sent. */
  readonly status: string;
}

function outcomeOf(file: string, output: string, stored: boolean): Outcome {
  const response = /Received Store Response \(([^)]*)\)/.exec(output)?.[1];
  const refusal = /^E: (No presentation context.*|.*Acceptable Presentation Context.*)$/im.exec(output)?.[1];
  return { file, stored, status: response ?? refusal ?? 'no response' };
}

(reference.available ? describe : describe.skip)('C-STORE of the single PET edge-case files with storescu', () => {
  const dir = reference.path;
  let dimse: TestDimse;

  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse?.stop());

  test('stores each file or refuses it with a clear status', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.dcm')).sort();
    expect(files.length).toBeGreaterThanOrEqual(8);
    const outcomes: Outcome[] = [];
    for (const name of files) {
      const before = dimse.archive.index.countInstances();
      // -xs: offer JPEG Lossless SV1 besides the uncompressed syntaxes, so the GE JPEG files go as they are.
      const run = await runTool('storescu', ['-v', '-xs', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), join(dir, name)]);
      outcomes.push(outcomeOf(name, run.output, dimse.archive.index.countInstances() === before + 1));
    }
    console.info(outcomes.map((o) => `${o.stored ? 'stored ' : 'refused'}  ${o.file}: ${o.status}`).join('\n'));
    for (const o of outcomes) {
      if (o.stored) expect(o.status).toBe('Success');
      else expect(o.status).toMatch(/^(Error|Failed|Refused|Warning)|presentation context/i);
    }
    // The JPEG Lossless GE files are the reason for -xs: they must be stored, still compressed.
    for (const name of ['fo-dicom-GH184.dcm', 'fo-dicom-GH610.dcm']) {
      expect(outcomes.find((o) => o.file === name)?.stored).toBe(true);
      const sop = readFileMetaInformation(await readFile(join(dir, name))).mediaStorageSopInstanceUid;
      expect(readFileMetaInformation(await storedFile(dimse, sop)).transferSyntaxUid).toBe(TransferSyntax.JpegLosslessSv1);
    }
    expect(await dimse.tempFiles()).toEqual([]);
  });
});
