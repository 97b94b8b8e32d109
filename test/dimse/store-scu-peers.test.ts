import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import { sendInstancesDimse } from '@mipseg/dimse';
import { readFileMetaInformation } from '@mipseg/shared/dicom';
import { sharedData } from '../support/shared-data';
import { dataSetOf, freePort, runTool, SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from './dimse-test-kit';

const reference = sharedData('data/pet-dicom/ge-discovery-st-wholebody');

/** A file's data set as dcmjs reads it, whatever its transfer syntax: values by keyword, Pixel Data as bytes. */
function naturalDataSet(file: Buffer): Record<string, unknown> {
  const dict = dcmjs.data.DicomMessage.readFile(Uint8Array.from(file).buffer);
  const natural: Record<string, unknown> = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  const pixels = natural.PixelData as ArrayBuffer[];
  // Without the VRs read: Implicit VR has none, and Pixel Data then reads as OW (PS3.5 A.1), whatever was written.
  delete natural._vrMap;
  return { ...natural, PixelData: pixels.map((b) => Buffer.from(b).toString('base64')) };
}

async function dicomFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(dir, f));
}

/** dcmtk's storescp writing what it receives bit for bit (+B); by default it accepts every transfer syntax it knows. */
async function startStorescp(outDir: string, accept = '+xa'): Promise<{ port: number; process: ChildProcess }> {
  const port = await freePort();
  const process = spawn('storescp', ['-aet', 'STORESCP', '-od', outDir, '+B', accept, String(port)], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if ((await runTool('echoscu', ['-aec', 'STORESCP', '127.0.0.1', String(port)])).code === 0) return { port, process };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.kill();
  throw new Error('storescp did not start');
}

(reference.available ? describe : describe.skip)('sendInstancesDimse with the GE series and the single files', () => {
  const singles = sharedData('data/pet-dicom/singles');
  let dimse: TestDimse;
  let scratch: string;
  let ge: string[];

  beforeAll(async () => {
    ge = await dicomFiles(reference.path);
    scratch = await mkdtemp(join(tmpdir(), 'mipseg-scu-peers-'));
    dimse = await startTestDimse();
  });
  afterAll(async () => {
    await dimse?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('sends all 267 GE instances to mipseg\'s SCP, which stores the original files\' data sets unchanged', async () => {
    const started = Date.now();
    const results = await sendInstancesDimse({ host: '127.0.0.1', port: dimse.port, callingAeTitle: 'MIPSEG_SCU',
      calledAeTitle: SCP_AE_TITLE, files: ge });
    console.info(`267 instances over one association in ${Date.now() - started} ms`);
    expect(results.filter((r) => r.outcome === 'sent')).toHaveLength(267);
    for (const file of ge) {
      const original = await readFile(file);
      const stored = await storedFile(dimse, readFileMetaInformation(original).mediaStorageSopInstanceUid);
      expect(dataSetOf(stored).equals(dataSetOf(original))).toBe(true);
    }
  });

  (singles.available ? test : test.skip)('sends to dcmtk storescp, which receives every data set bit for bit', async () => {
    const outDir = await mkdtemp(join(scratch, 'storescp-'));
    const storescp = await startStorescp(outDir);
    try {
      const files = [...ge.slice(0, 20), ...(await dicomFiles(singles.path))];
      const results = await sendInstancesDimse({ host: '127.0.0.1', port: storescp.port, callingAeTitle: 'MIPSEG_SCU',
        calledAeTitle: 'STORESCP', files });
      const noMeta = results.find((r) => r.file.endsWith('orthanc-tests-PrivateMDNTags.dcm'));
      expect(noMeta).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/File Meta Information/) });
      const sent = results.filter((r) => r.outcome === 'sent');
      expect(sent).toHaveLength(files.length - 1);
      const received = new Map<string, Buffer>();
      for (const name of await readdir(outDir)) {
        const bytes = await readFile(join(outDir, name));
        received.set(readFileMetaInformation(bytes).mediaStorageSopInstanceUid, bytes);
      }
      for (const r of sent) {
        const copy = received.get(r.sopInstanceUid ?? '');
        expect(copy && dataSetOf(copy).equals(dataSetOf(await readFile(r.file)))).toBe(true);
      }
    } finally {
      storescp.process.kill();
    }
  });

  (singles.available ? test : test.skip)('lets the library convert to a syntax the peer takes, and refuses what it cannot convert', async () => {
    const outDir = await mkdtemp(join(scratch, 'storescp-implicit-'));
    const storescp = await startStorescp(outDir, '+xi');
    try {
      const deflated = join(scratch, 'deflated.dcm');
      expect((await runTool('dcmconv', ['+td', join(singles.path, 'suyashkumar-dicom-1.dcm'), deflated])).code).toBe(0);
      const files = [...['suyashkumar-dicom-1.dcm', 'fo-dicom-GH184.dcm'].map((f) => join(singles.path, f)), deflated];
      const [explicit, jpeg, deflatedResult] = await sendInstancesDimse({ host: '127.0.0.1', port: storescp.port,
        callingAeTitle: 'MIPSEG_SCU', calledAeTitle: 'STORESCP', files });
      // Explicit VR LE goes out re-encoded as Implicit VR LE; JPEG Lossless would need decoding, so it is refused here.
      expect(explicit).toMatchObject({ outcome: 'sent', status: 0 });
      expect(jpeg).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/does not transcode/) });
      // Deflated is uncompressed pixel data, yet dcmjs-dimse does not inflate it: refused, not retried as an association that ended early.
      expect(deflatedResult).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/does not transcode/) });
      expect(await readdir(outDir)).toHaveLength(1);
    } finally {
      storescp.process.kill();
    }
  });

  const segs = sharedData('data/seg-examples/dcmjs-tumor_User1_Manual_Trial1.dcm');
  (segs.available ? test : test.skip)('sends a BINARY SEG (1 bit) to a peer that takes Implicit VR only, re-encoded with every element and pixel kept', async () => {
    const outDir = await mkdtemp(join(scratch, 'storescp-implicit-seg-'));
    const storescp = await startStorescp(outDir, '+xi');
    try {
      const [seg] = await sendInstancesDimse({ host: '127.0.0.1', port: storescp.port, callingAeTitle: 'MIPSEG_SCU',
        calledAeTitle: 'STORESCP', files: [segs.path] });
      // Before: the library skipped it without a word (an association "ended early", retried for nothing), and then
      // it was refused: dcmjs-dimse converts 8- and 16-bit pixel data only.
      expect(seg).toMatchObject({ outcome: 'sent', status: 0 });
      const [name] = await readdir(outDir);
      const received = await readFile(join(outDir, name ?? ''));
      expect(readFileMetaInformation(received).transferSyntaxUid).toBe('1.2.840.10008.1.2');
      expect(naturalDataSet(received)).toEqual(naturalDataSet(await readFile(segs.path)));
    } finally {
      storescp.process.kill();
    }
  });
});
