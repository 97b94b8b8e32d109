import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow } from '../support/stow';

const STUDY = '2.25.9700';
const SERIES = `${STUDY}.1`;

function instance(sop: string, options: { attributes?: Record<string, unknown>; rows?: number; description?: string } = {}): Buffer {
  const rows = options.rows ?? 4;
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: SERIES, imagePositionPatient: [0, 0, 1], rows, columns: rows,
    attributes: { StudyInstanceUID: STUDY, PatientID: 'STOW-ANSWERS', SeriesDescription: options.description ?? 'PET', ...options.attributes } }));
}

describe('STOW-RS answers for what failed', () => {
  let server: TestArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  test('a fault of the server (an I/O error) is a 500 a client may retry, not a 400, and the retry is stored', async () => {
    server = await startTestArchive();
    // A file where the study's folder must go: creating the folder fails (ENOTDIR), as a failing disk would.
    mkdirSync(join(server.dataDir, 'instances'), { recursive: true });
    writeFileSync(join(server.dataDir, 'instances', STUDY), 'in the way');
    const refused = await postStow(`${server.baseUrl}/studies`, [instance(`${SERIES}.1`)]);
    expect(refused.status).toBe(500);
    expect(failureReasons(refused)).toEqual([0x0110]);
    rmSync(join(server.dataDir, 'instances', STUDY));
    expect((await postStow(`${server.baseUrl}/studies`, [instance(`${SERIES}.1`)])).status).toBe(200);
  });

  test('a part whose data set cannot be read is named in FailedSOPSequence by its File Meta Information', async () => {
    server = await startTestArchive();
    const badSeriesUid = instance(`${SERIES}.2`, { attributes: { SeriesInstanceUID: '1.2.abc' } });
    const reply = await postStow(`${server.baseUrl}/studies`, [badSeriesUid]);
    expect(reply.status).toBe(400);
    const [item] = reply.body?.['00081198']?.Value ?? [];
    expect(item?.['00081150']?.Value).toEqual(['1.2.840.10008.5.1.4.1.1.128']);
    expect(item?.['00081155']?.Value).toEqual([`${SERIES}.2`]);
  });

  test('two copies of one instance in one request are stored in part order: the later copy is the one kept', async () => {
    server = await startTestArchive();
    // The first copy is large, so its part syncs to disk well after the small second one.
    const first = instance(`${SERIES}.3`, { rows: 2048, description: 'first copy' });
    const second = instance(`${SERIES}.3`, { description: 'second copy' });
    for (let round = 0; round < 3; round++) {
      const reply = await postStow(`${server.baseUrl}/studies`, [first, second]);
      expect(reply.status).toBeLessThan(300);
      const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/${SERIES}.3/metadata`);
      const [metadata] = (await res.json()) as Record<string, { Value?: unknown[] }>[];
      expect(metadata?.['0008103E']?.Value).toEqual(['second copy']);
    }
  });
});
