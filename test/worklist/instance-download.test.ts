import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { postStow } from '../support/stow';
import { startWorklistServer, type WorklistServer } from './worklist-server';

const STUDY = '2.25.7100';
const SERIES = '2.25.7101';

/** A PET slice of `side` × `side` 16-bit pixels, with a pattern so that a truncated or shifted copy shows. */
function slice(sop: string, side: number): Buffer {
  const stored = Array.from({ length: side * side }, (_, i) => (i * 7919) % 30_000);
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0], rows: side, columns: side, stored,
    seriesInstanceUid: SERIES, attributes: { StudyInstanceUID: STUDY } }));
}

describe('the worklist page\'s instance download (/api/studies/{s}/series/{se}/instances/{i}/file)', () => {
  let server: WorklistServer;
  const small = slice('2.25.7102', 64);
  // 1536 × 1536 × 2 bytes: 4.5 MiB, over what is read whole.
  const large = slice('2.25.7103', 1536);
  const url = (sop: string) => `${server.root}/api/studies/${STUDY}/series/${SERIES}/instances/${sop}/file`;

  beforeAll(async () => {
    server = await startWorklistServer();
    expect((await postStow(`${server.root}/dicomweb/studies`, [small, large])).status).toBe(200);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(() => server.stop());

  test('sends the stored file byte for byte, as an attachment named by its SOP Instance UID', async () => {
    const res = await fetch(url('2.25.7102'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="2.25.7102.dcm"');
    expect(Buffer.from(await res.arrayBuffer()).equals(small)).toBe(true);
  });

  test('streams a large file from disk instead of reading it whole into memory', async () => {
    const readWhole = jest.spyOn(server.archive.blobs, 'read');
    const res = await fetch(url('2.25.7103'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(large.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(large)).toBe(true);
    expect(readWhole).not.toHaveBeenCalled();
  });

  test.each([['small', '2.25.7102'], ['large', '2.25.7103']])('answers 404 for a %s instance deleted after it was looked up', async (_, sop) => {
    const gone = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
    jest.spyOn(server.archive.blobs, 'read').mockRejectedValue(gone);
    jest.spyOn(server.archive.blobs, 'openRanged').mockRejectedValue(gone);
    jest.spyOn(server.archive, 'isStillStored').mockReturnValue(false);
    const res = await fetch(url(sop));
    expect({ status: res.status, body: await res.json() as unknown }).toMatchObject({ status: 404, body: { code: 'MIPSEG_NOT_FOUND' } });
    // Not saved as a .dcm file, nor cached for an hour: the instance may be sent again.
    expect(res.headers.get('content-disposition')).toBeNull();
    expect(res.headers.get('cache-control') ?? '').not.toMatch(/max-age/);
    // Not the stored copy's tag: a client holding the file under it must not be told "not modified" about a failure.
    expect(res.headers.get('etag') ?? '').not.toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('is revalidated, not kept for an hour: 304 for the copy the client holds, the file again once replaced', async () => {
    const first = await fetch(url('2.25.7102'));
    await first.arrayBuffer();
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const etag = first.headers.get('etag') as string;
    expect((await fetch(url('2.25.7102'), { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const corrected = slice('2.25.7102', 32);
    expect((await postStow(`${server.root}/dicomweb/studies`, [corrected])).status).toBe(202);
    const again = await fetch(url('2.25.7102'), { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(corrected)).toBe(true);
  });
});
