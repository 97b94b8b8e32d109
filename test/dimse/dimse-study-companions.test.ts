import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, SCP_AE_TITLE, startTestDimse, syntheticInstance, type TestDimse } from './dimse-test-kit';

const PET = '1.2.840.10008.5.1.4.1.1.128';

/**
 * Objects a PET/CT study carries beside its images, which a PACS router sends in the same association: a SOP class
 * the SCP refuses fails the transfer of the whole study (storescu stops at the first file it has no context for).
 */
const COMPANIONS = [
  { name: 'spatial registration', sopClassUid: '1.2.840.10008.5.1.4.1.1.66.1', modality: 'REG', pixelDataBytes: 0 },
  { name: 'grayscale presentation state', sopClassUid: '1.2.840.10008.5.1.4.1.1.11.1', modality: 'PR', pixelDataBytes: 0 },
  { name: 'encapsulated PDF', sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1', modality: 'DOC', pixelDataBytes: 0 },
  { name: 'raw data', sopClassUid: '1.2.840.10008.5.1.4.1.1.66', modality: 'CT', pixelDataBytes: 0 },
  { name: 'patient radiation dose SR', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.73', modality: 'SR', pixelDataBytes: 0 },
  { name: 'multi-frame grayscale word SC', sopClassUid: '1.2.840.10008.5.1.4.1.1.7.3', modality: 'OT', pixelDataBytes: 4 },
] as const;

describe('C-STORE of the non-PET objects a PET/CT study carries', () => {
  let dimse: TestDimse;
  let dir: string;
  beforeAll(async () => {
    dimse = await startTestDimse();
    dir = await mkdtemp(join(tmpdir(), 'mipseg-companions-'));
  });
  afterAll(async () => {
    await dimse.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a study sent with them is stored whole, in one association', async () => {
    const files: string[] = [];
    let n = 0;
    for (const c of [{ name: 'PET slice', sopClassUid: PET, modality: 'PT', pixelDataBytes: 2 }, ...COMPANIONS]) {
      const path = join(dir, `${String(++n)}.dcm`);
      await writeFile(path, syntheticInstance({ sopClassUid: c.sopClassUid, sopInstanceUid: `2.25.77${n}`, modality: c.modality,
        pixelDataBytes: c.pixelDataBytes }));
      files.push(path);
    }
    const run = await runTool('storescu', ['-R', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), ...files]);
    expect({ code: run.code, output: run.output.split('\n').filter((l) => /^[EFW]:/.test(l)) }).toEqual({ code: 0, output: [] });
    expect(dimse.archive.index.countInstances()).toBe(files.length);
  });
});
