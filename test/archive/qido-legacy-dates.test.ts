import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

type Json = Record<string, { Value?: unknown[] }>;

const STUDY = '2.25.5170000';

/** A PET slice whose dates are in yyyy.mm.dd, which dcmjs will not write: dcmodify (dcmtk) sets them. */
function sliceWithAcrNemaDates(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-acr-nema-dates-'));
  try {
    const path = join(dir, 'slice.dcm');
    writeFileSync(path, syntheticPetInstance({ sopInstanceUid: `${STUDY}.1.1`, seriesInstanceUid: `${STUDY}.1`, imagePositionPatient: [0, 0, 0],
      attributes: { StudyInstanceUID: STUDY } }));
    const run = spawnSync('dcmodify', ['-nb', '-i', '(0008,0020)=2024.01.15', '-i', '(0008,0021)=2024.01.15', '-i', '(0010,0030)=1950.03.02', path],
      { encoding: 'utf8', timeout: 60_000 });
    if (run.error) throw new Error(`dcmodify cannot run (apt-get install dcmtk): ${run.error.message}`);
    if (run.status !== 0) throw new Error(`dcmodify exited ${run.status}: ${run.stderr}`);
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('dates sent in ACR-NEMA\'s yyyy.mm.dd form', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [sliceWithAcrNemaDates()])).status).toBe(200);
  });
  afterAll(() => server.stop());

  const studies = async (query: string): Promise<Json[]> => (await (await fetch(`${server.baseUrl}/studies?${query}`)).json()) as Json[];

  test('are matched by QIDO date values and ranges, and answered as DA (yyyymmdd)', async () => {
    for (const query of ['StudyDate=20240115', 'StudyDate=20240101-20240131', 'StudyDate=20240115-', 'PatientBirthDate=19500302']) {
      expect([query, (await studies(query)).map((s) => s['0020000D']?.Value?.[0])]).toEqual([query, [STUDY]]);
    }
    expect(await studies('StudyDate=20240116-')).toEqual([]);
    const [study] = await studies(`StudyInstanceUID=${STUDY}`);
    expect([study?.['00080020']?.Value, study?.['00100030']?.Value]).toEqual([['20240115'], ['19500302']]);
    const [series] = (await (await fetch(`${server.baseUrl}/studies/${STUDY}/series?SeriesDate=20240115`)).json()) as Json[];
    expect(series?.['00080021']?.Value).toEqual(['20240115']);
  });

  test('stay as sent in the stored instance (WADO-RS metadata)', async () => {
    const [instance] = (await (await fetch(`${server.baseUrl}/studies/${STUDY}/metadata`)).json()) as Json[];
    expect(instance?.['00080020']?.Value).toEqual(['2024.01.15']);
  });
});
