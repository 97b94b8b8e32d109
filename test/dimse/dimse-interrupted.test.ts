import type { Socket } from 'node:net';
import { Client, Dataset, requests } from 'dcmjs-dimse';
import { SopClass } from '@mipseg/shared/dicom';
import { SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

/** A data set big enough that it is still in flight when the test cuts the connection. */
class LargeDataSet extends Dataset {
  constructor(private readonly bytes: Buffer) {
    super({ SOPClassUID: SopClass.PositronEmissionTomographyImageStorage, SOPInstanceUID: '2.25.9001' }, '1.2.840.10008.1.2');
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < timeoutMs;) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

describe('a C-STORE cut off mid data set', () => {
  let dimse: TestDimse;

  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse?.stop());

  test('leaves no partial file behind and stores nothing', async () => {
    const client = new Client();
    client.addRequest(new requests.CStoreRequest(new LargeDataSet(Buffer.alloc(256 * 1024 * 1024))));
    const closed = new Promise<void>((resolve) => client.on('closed', () => resolve()));
    client.send('127.0.0.1', dimse.port, 'CUTOFF', SCP_AE_TITLE);
    expect(await until(async () => (await dimse.tempFiles()).length > 0, 10_000)).toBe(true);
    (client as unknown as { network: { socket: Socket } }).network.socket.destroy();
    await closed;
    expect(await until(async () => (await dimse.tempFiles()).length === 0, 5000)).toBe(true);
    expect(dimse.archive.index.countInstances()).toBe(0);
  });
});
