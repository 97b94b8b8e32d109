import { readFileMetaInformation } from '@mipseg/shared/dicom';
import { readMultipartParts } from '@mipseg/shared/dicomweb';
import type { StoredInstance } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const ACCEPT_AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

function slice(study: string, series: string, sop: string, z: number, extra: Record<string, unknown> = {}, rows = 4): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: series, imagePositionPatient: [0, 0, z],
    rows, columns: rows, attributes: { StudyInstanceUID: study, ...extra } }));
}

/** A study/series/instance retrieve while the archive changes under it: what a DELETE or a corrected re-send does mid-way. */
describe('WADO-RS retrieve racing a change to what it lists', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test('a series deleted between its listing and the first read answers 404 with a reason, not a cut connection', async () => {
    const [study, series] = ['2.25.9801', '2.25.9801.1'];
    const files = [1, 2].map((n) => slice(study, series, `${series}.${n}`, n));
    expect((await postStow(`${server.baseUrl}/studies`, files)).status).toBe(200);
    const blobs = server.archive.blobs;
    const read = blobs.read.bind(blobs);
    let deleted = false;
    blobs.read = async (key: string) => {
      if (!deleted) {
        deleted = true;
        await server.archive.deleteSeries(study, series);
      }
      return read(key);
    };
    try {
      const res = await fetch(`${server.baseUrl}/studies/${study}/series/${series}`, { headers: { Accept: ACCEPT_AS_STORED } });
      expect(res.status).toBe(404);
      expect(await res.text()).toMatch(/not found/i);
    } finally {
      blobs.read = read;
    }
    expect(deleted).toBe(true);
  });

  // Small files are read whole, READ_AHEAD at a time; large ones (over 1 MiB) are opened at their turn and streamed.
  test.each([['small', 4, '2.25.9802'], ['large', 1024, '2.25.9803']])(
    'a %s copy replaced after the listing is sent with its own length and transfer syntax, not the listed row\'s', async (_size, rows, study) => {
    const [series, sop] = [`${study}.1`, `${study}.1.1`];
    expect((await postStow(`${server.baseUrl}/studies`, [slice(study, series, sop, 1, {}, rows)])).status).toBe(200);
    const listed = server.archive.index.listInstances({ studyUid: study });
    // The corrected copy: another description, so another length.
    const corrected = slice(study, series, sop, 1, { SeriesDescription: 'PET AC corrected after the listing was read' }, rows);
    expect((await postStow(`${server.baseUrl}/studies`, [corrected])).status).toBe(202);
    const index = server.archive.index;
    const list = index.listInstances.bind(index);
    index.listInstances = (): StoredInstance[] => listed;
    try {
      const res = await fetch(`${server.baseUrl}/studies/${study}`, { headers: { Accept: ACCEPT_AS_STORED } });
      expect(res.status).toBe(200);
      const [part] = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
      expect(part?.body.equals(corrected)).toBe(true);
      expect(Number(part?.headers['content-length'])).toBe(corrected.length);
      expect(part?.headers['content-type']).toContain(`transfer-syntax=${readFileMetaInformation(corrected).transferSyntaxUid}`);
    } finally {
      index.listInstances = list;
    }
  });
});
