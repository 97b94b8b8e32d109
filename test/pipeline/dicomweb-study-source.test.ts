import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DicomwebStudySource } from '../../services/worker/src/pipeline/study-source';
import { syntheticPetInstance } from './volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

/** What a queue-mode worker reads through the gateway (WADO-RS and QIDO-RS), against a real gateway. */
describe('DicomwebStudySource', () => {
  let server: TestArchiveServer;
  let source: DicomwebStudySource;
  beforeAll(async () => {
    server = await startTestArchive();
    source = new DicomwebStudySource(server.baseUrl);
    const slice = (n: number) => Buffer.from(syntheticPetInstance({ sopInstanceUid: `2.25.9501.${n}`, seriesInstanceUid: '2.25.9501',
      imagePositionPatient: [0, 0, n] }));
    expect((await postStow(`${server.baseUrl}/studies`, [slice(1), slice(2)])).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('reads the instances asked for', async () => {
    expect(await source.readSeries('2.25.700', '2.25.9501', ['2.25.9501.2'])).toHaveLength(1);
  });

  test('fails as not found when an instance asked for is missing, rather than leave it out', async () => {
    await expect(source.readSeries('2.25.700', '2.25.9501', ['2.25.9501.1', '2.25.9501.3'])).rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
  });

  test('says whether a series is still stored', async () => {
    expect(await source.hasSeries('2.25.700', '2.25.9501')).toBe(true);
    expect(await source.hasSeries('2.25.700', '2.25.9599')).toBe(false);
  });

  test('a series not found is not found; a 404 for a series the gateway still lists (a proxy while it restarts) is retried', async () => {
    await expect(source.readSeries('2.25.700', '2.25.9599')).rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
    // A proxy that answers 404 for retrieves while its backend is away, and passes searches through.
    const proxy = createServer((req, res) => {
      if (!req.url?.includes('?')) return void res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>');
      void fetch(`${server.baseUrl.replace('/dicomweb', '')}${req.url}`).then(async (answer) => {
        res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const behindProxy = new DicomwebStudySource(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/dicomweb`);
      const failure = await behindProxy.readSeries('2.25.700', '2.25.9501').catch((err: unknown) => err);
      expect(failure).toMatchObject({ code: 'MIPSEG_INTERNAL', message: expect.stringMatching(/still lists it/) });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
