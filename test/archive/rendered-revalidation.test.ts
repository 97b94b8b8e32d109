import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const STUDY = '2.25.700'; // syntheticPetInstance's study
const SERIES = '2.25.8811';
const SOP = '2.25.8812';

const instance = (first: number): Buffer => Buffer.from(syntheticPetInstance({
  sopInstanceUid: SOP, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 0],
  stored: Array.from({ length: 16 }, (_, i) => first + 100 * i),
}));

// A viewer or the worklist keeps a rendered image as long as the server lets it: a copy replaced by a corrected
// one, or deleted, must not go on showing from its cache.
describe('GET …/rendered is revalidated, not cached for an hour', () => {
  let server: TestArchiveServer;
  let url: string;
  beforeAll(async () => {
    server = await startTestArchive({ ALLOW_STUDY_DELETE: 'true' });
    url = `${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SOP}/rendered`;
  });
  afterAll(() => server.stop());

  test('answers with an ETag to revalidate against, 304 while unchanged, the new picture once replaced, 404 once deleted', async () => {
    expect((await postStow(`${server.baseUrl}/studies`, [instance(0)])).status).toBe(200);
    const first = await fetch(url, { headers: { Accept: 'image/png' } });
    expect(first.status).toBe(200);
    const cacheControl = first.headers.get('cache-control') ?? '';
    expect(cacheControl).toMatch(/no-cache/);
    expect(cacheControl).not.toMatch(/max-age=[1-9]/);
    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const firstPicture = Buffer.from(await first.arrayBuffer());

    const reads = jest.spyOn(server.archive.blobs, 'read');
    const unchanged = await fetch(url, { headers: { Accept: 'image/png', 'If-None-Match': etag } });
    expect(unchanged.status).toBe(304);
    expect(reads).not.toHaveBeenCalled(); // answered from the index: no read, no render
    reads.mockRestore();
    // Another form of the same instance is another representation, with its own tag.
    const jpeg = await fetch(url, { headers: { Accept: 'image/jpeg', 'If-None-Match': etag } });
    expect(jpeg.status).toBe(200);
    await jpeg.arrayBuffer();

    expect((await postStow(`${server.baseUrl}/studies`, [instance(5000)])).status).toBe(202); // a replaced copy
    const replaced = await fetch(url, { headers: { Accept: 'image/png', 'If-None-Match': etag } });
    expect(replaced.status).toBe(200);
    expect(replaced.headers.get('etag')).not.toBe(etag);
    expect(Buffer.from(await replaced.arrayBuffer()).equals(firstPicture)).toBe(false);

    expect((await fetch(`${server.baseUrl}/studies/${STUDY}`, { method: 'DELETE' })).status).toBe(200);
    const deleted = await fetch(url, { headers: { Accept: 'image/png', 'If-None-Match': etag } });
    expect(deleted.status).toBe(404);
  });

  test('a study\'s metadata answers 304 from the index while no instance changed, and again in full once one arrives', async () => {
    const metadataUrl = `${server.baseUrl}/studies/${STUDY}/metadata`;
    expect((await postStow(`${server.baseUrl}/studies`, [instance(100)])).status).toBeLessThan(300);
    const first = await fetch(metadataUrl, { headers: { Accept: 'application/dicom+json' } });
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const reads = jest.spyOn(server.archive, 'readMetadata');
    const unchanged = await fetch(metadataUrl, { headers: { Accept: 'application/dicom+json', 'If-None-Match': etag } });
    expect(unchanged.status).toBe(304);
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
    const another = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.8813', seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 4] }));
    expect((await postStow(`${server.baseUrl}/studies`, [another])).status).toBe(200);
    const grown = await fetch(metadataUrl, { headers: { Accept: 'application/dicom+json', 'If-None-Match': etag } });
    expect(grown.status).toBe(200);
    expect(((await grown.json()) as unknown[]).length).toBe(2);
  });
});
