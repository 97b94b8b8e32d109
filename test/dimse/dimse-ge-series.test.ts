import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIPSEG_IMPLEMENTATION_CLASS_UID, readFileMetaInformation } from '@mipseg/shared/dicom';
import { sharedData } from '../support/shared-data';
import { dataSetOf, runTool, SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from './dimse-test-kit';

const reference = sharedData('data/pet-dicom/ge-discovery-st-wholebody');
const UltrasoundImageStorage = '1.2.840.10008.5.1.4.1.1.6.1';

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j)));
}

const storescu = (dimse: TestDimse, callingAe: string, inputs: readonly string[], options: readonly string[] = []) =>
  runTool('storescu', ['-v', '-aet', callingAe, '-aec', SCP_AE_TITLE, ...options, '127.0.0.1', String(dimse.port), ...inputs]);

(reference.available ? describe : describe.skip)('C-STORE of the whole-body GE PET series with storescu', () => {
  const dir = reference.path;
  let dimse: TestDimse;
  let scratch: string;
  let files: string[];

  beforeAll(async () => {
    files = (await readdir(dir)).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(dir, f));
    scratch = await mkdtemp(join(tmpdir(), 'mipseg-dimse-files-'));
    dimse = await startTestDimse({ DIMSE_ALLOWED_AE_TITLES: 'STORESCU' });
  });
  afterAll(async () => {
    await dimse?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('stores all 267 instances, each data set byte-identical to what storescu sent', async () => {
    expect(files).toHaveLength(267);
    // -xi: offer only Implicit VR LE, the files' own transfer syntax, so storescu does not convert them.
    const run = await storescu(dimse, 'STORESCU', [dir], ['+sd', '+sp', '*.dcm', '-xi']);
    expect(run.code).toBe(0);
    expect(run.output).not.toMatch(/Converting transfer syntax: .* -> Little Endian Explicit/);
    expect(dimse.archive.index.countInstances()).toBe(267);
    // storescu re-encodes as it sends (sequences of undefined length get explicit lengths), so the bytes on
    // the wire are dcmtk's encoding of the file, which dcmconv reproduces: that is the oracle.
    await inBatches(files, 8, async (file, i) => {
      const original = await readFile(file);
      const { mediaStorageSopInstanceUid, transferSyntaxUid } = readFileMetaInformation(original);
      const sent = join(scratch, `sent-${i}.dcm`);
      expect((await runTool('dcmconv', ['+ti', file, sent])).code).toBe(0);
      const stored = await storedFile(dimse, mediaStorageSopInstanceUid);
      expect(readFileMetaInformation(stored).transferSyntaxUid).toBe(transferSyntaxUid);
      expect(dataSetOf(stored).equals(dataSetOf(await readFile(sent)))).toBe(true);
    });
    expect(await dimse.tempFiles()).toEqual([]);
  });

  test('writes File Meta Information that dcmdump reads: transfer syntax, mipseg implementation, source AE', async () => {
    const sop = readFileMetaInformation(await readFile(files[0] as string)).mediaStorageSopInstanceUid;
    const instance = dimse.archive.index.findInstance(sop);
    const dump = await runTool('dcmdump', ['-M', join(dimse.dataDir, instance?.storageKey ?? 'missing')]);
    expect(dump.code).toBe(0);
    expect(dump.output).toMatch(/\(0002,0010\) UI =LittleEndianImplicit/);
    expect(dump.output).toContain(`(0002,0003) UI [${sop}]`);
    expect(dump.output).toContain(`(0002,0012) UI [${MIPSEG_IMPLEMENTATION_CLASS_UID}]`);
    expect(dump.output).toMatch(/\(0002,0016\) AE \[STORESCU\]/);
  });

  test('stores the bytes storescu sent when it converts on the way (dcmconv as the oracle)', async () => {
    const file = files[4] as string;
    const other = await startTestDimse();
    try {
      // +C: one context of Explicit VR LE, Big Endian and Implicit VR, in that order; mipseg takes the first, so
      // storescu converts the Implicit VR file as it sends. (In separate contexts, its default, Big Endian and
      // Implicit VR share the second; mipseg takes Implicit there, the file's own, and nothing is converted.)
      const run = await storescu(other, 'STORESCU', [file], ['+C']);
      expect(run.output).toContain('Converting transfer syntax: Little Endian Implicit -> Little Endian Explicit');
      const converted = join(scratch, 'explicit.dcm');
      expect((await runTool('dcmconv', ['+te', file, converted])).code).toBe(0);
      const stored = await storedFile(other, readFileMetaInformation(await readFile(file)).mediaStorageSopInstanceUid);
      expect(readFileMetaInformation(stored).transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
      expect(dataSetOf(stored).equals(dataSetOf(await readFile(converted)))).toBe(true);
    } finally {
      await other.stop();
    }
  });

  test('acknowledges an identical resend with success and keeps one copy', async () => {
    const run = await storescu(dimse, 'STORESCU', files.slice(0, 2), ['-xi']);
    expect(run.code).toBe(0);
    expect(run.output.match(/Received Store Response \(Success\)/g)).toHaveLength(2);
    expect(dimse.archive.index.countInstances()).toBe(267);
  });

  test('rejects a calling AE title not on the allow-list and stores nothing', async () => {
    const other = await startTestDimse({ DIMSE_ALLOWED_AE_TITLES: 'PACS1' });
    try {
      const run = await storescu(other, 'INTRUDER', files.slice(0, 1));
      expect(run.code).not.toBe(0);
      expect(run.output).toMatch(/Calling AE Title Not Recognized/i);
      expect(other.archive.index.countInstances()).toBe(0);
      expect(await other.tempFiles()).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  test('refuses a SOP class it does not support at negotiation', async () => {
    const copy = join(scratch, 'us.dcm');
    await copyFile(files[0] as string, copy);
    // dcmodify updates the File Meta Information to match.
    const modify = await runTool('dcmodify', ['-nb', '-m', `(0008,0016)=${UltrasoundImageStorage}`, '-gin', copy]);
    expect(modify.code).toBe(0);
    const before = dimse.archive.index.countInstances();
    const run = await storescu(dimse, 'STORESCU', [copy]);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/No (presentation context|Acceptable Presentation Contexts)/i);
    expect(dimse.archive.index.countInstances()).toBe(before);
  });

  test('answers 0xA900 for a data set that does not match its SOP class', async () => {
    const copy = join(scratch, 'ct-in-pet.dcm');
    await copyFile(files[2] as string, copy);
    expect((await runTool('dcmodify', ['-nb', '-m', '(0008,0060)=CT', '-gin', copy])).code).toBe(0);
    const run = await storescu(dimse, 'STORESCU', [copy]);
    expect(run.output).toMatch(/Received Store Response \(Error: DataSetDoesNotMatchSOPClass\)/);
    expect(dimse.archive.index.findInstance(readFileMetaInformation(await readFile(copy)).mediaStorageSopInstanceUid)).toBeUndefined();
    expect(await dimse.tempFiles()).toEqual([]);
  });
});
