import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, SCP_AE_TITLE, startTestDimse, syntheticInstance, type TestDimse } from './dimse-test-kit';

const PET = '1.2.840.10008.5.1.4.1.1.128';

/** storescu's words for the C-STORE response status (dcmtk: "Success", "Refused: OutOfResources", …). */
const storeResponse = (output: string): string => /Received Store Response \(([^)]*)\)/.exec(output)?.[1] ?? `no response: ${output.slice(-500)}`;

describe('MIN_FREE_DISK_BYTES as a floor for C-STORE', () => {
  let dimse: TestDimse;
  let dir: string;
  beforeAll(async () => {
    dimse = await startTestDimse();
    dir = await mkdtemp(join(tmpdir(), 'mipseg-floor-'));
  });
  afterAll(async () => {
    await dimse.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const send = async (name: string, sopInstanceUid: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, syntheticInstance({ sopClassUid: PET, sopInstanceUid, modality: 'PT' }));
    return storeResponse((await runTool('storescu', ['-v', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), path])).output);
  };

  test('below the floor a new instance is refused as out of resources (0xA700, the sender retries) and nothing is stored', async () => {
    expect(await send('before.dcm', '2.25.501')).toBe('Success');
    // More free space than any volume has: the floor is never met.
    dimse.archive.keepFree(Number.MAX_SAFE_INTEGER);
    expect(await send('new.dcm', '2.25.502')).toMatch(/OutOfResources/);
    expect(dimse.archive.index.findInstance('2.25.502')).toBeUndefined();
    // A re-send of what is stored writes nothing, and is still answered as stored.
    expect(await send('before.dcm', '2.25.501')).toBe('Success');
    expect(await dimse.tempFiles()).toEqual([]);
    dimse.archive.keepFree(0);
    expect(await send('new.dcm', '2.25.502')).toBe('Success');
  });

  test('below the floor, a large data set is refused before it is written to a temp file, not once it is whole', async () => {
    let written = 0;
    const createTemp = dimse.archive.blobs.createTemp.bind(dimse.archive.blobs);
    const spy = jest.spyOn(dimse.archive.blobs, 'createTemp').mockImplementation(() => {
      const temp = createTemp();
      const write = temp.stream.write.bind(temp.stream) as (chunk: Buffer) => boolean;
      temp.stream.write = ((chunk: Buffer) => {
        written += chunk.length;
        return write(chunk);
      }) as typeof temp.stream.write;
      return temp;
    });
    const path = join(dir, 'large.dcm');
    // 24 MiB of pixel data.
    await writeFile(path, syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.503', modality: 'PT', pixelDataBytes: 24 * 1024 * 1024 }));
    dimse.archive.keepFree(Number.MAX_SAFE_INTEGER);
    try {
      const answer = storeResponse((await runTool('storescu', ['-v', '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), path])).output);
      expect(answer).toMatch(/OutOfResources/);
    } finally {
      spy.mockRestore();
      dimse.archive.keepFree(0);
    }
    expect(written).toBeLessThan(1024 * 1024);
    expect(await dimse.tempFiles()).toEqual([]);
  });
});
