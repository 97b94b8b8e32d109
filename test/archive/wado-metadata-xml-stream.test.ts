import { readMultipartParts } from '@mipseg/shared/dicomweb';
import type { StoredInstance } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const STUDY = '2.25.9961';
const SERIES = '2.25.9961.1';
const XML = 'multipart/related; type="application/dicom+xml"';

/** WADO-RS metadata as XML goes out a document at a time, as the JSON array does: a study's is tens of megabytes. */
describe('WADO-RS metadata in XML', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
    const files = [1, 2, 3].map((n) => Buffer.from(syntheticPetInstance({ sopInstanceUid: `${SERIES}.${n}`, seriesInstanceUid: SERIES,
      imagePositionPatient: [0, 0, n], attributes: { StudyInstanceUID: STUDY, InstanceNumber: n } })));
    expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('its first document arrives while a later instance is still being read, and every document follows', async () => {
    const read = server.archive.readMetadata.bind(server.archive);
    let released = false;
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = () => {
        released = true;
        resolve();
      };
    });
    // Should the first document wait for the held read, the read is let go after a while and the test fails on `released`.
    const safety = setTimeout(release, 5000);
    server.archive.readMetadata = async (instance: StoredInstance) => {
      if (instance.sopInstanceUid === `${SERIES}.3`) await held;
      return read(instance);
    };
    try {
      const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES}/metadata`, { headers: { Accept: XML } });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const chunks: Buffer[] = [];
      while (!Buffer.concat(chunks).toString('utf8').includes('</NativeDicomModel>')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the body ended before its first document');
        chunks.push(Buffer.from(value));
      }
      expect(released).toBe(false);
      release();
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(Buffer.from(r.value));
      const parts = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.concat(chunks));
      expect(parts.map((p) => /SOPInstanceUID[^]*?<Value number="1">([^<]+)</.exec(p.body.toString('utf8'))?.[1]))
        .toEqual([`${SERIES}.1`, `${SERIES}.2`, `${SERIES}.3`]);
    } finally {
      clearTimeout(safety);
      release();
      server.archive.readMetadata = read;
    }
  });
});
