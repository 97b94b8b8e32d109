import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { waitForJobs } from '../support/pipeline-wait';
import { postStow } from '../support/stow';
import { syntheticPetStudy, type SyntheticPetStudy } from './faults/synthetic-pet-study';

const TERMINAL = ['done', 'failed', 'not-applicable'];

describe('mipseg serve with WORKER_CONCURRENCY=2 (two analysis threads)', () => {
  let dataDir: string;
  let mipseg: MipsegProcess | undefined;
  let root: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-threads-'));
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, WORKER_CONCURRENCY: '2', QUIET_PERIOD_MS: '500', MIN_PET_SLICES: '10', MIN_PET_COVERAGE_MM: '0',
      DIMSE_ENABLED: 'false' });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
  });
  afterAll(async () => {
    if (mipseg) await killAndWait(mipseg.child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const analysed = (study: SyntheticPetStudy) =>
    waitForJobs(root, study.studyInstanceUid, (j) => j.length > 0 && j.every((x) => TERMINAL.includes(x.state)), 60_000);

  test('analyses valid and bad studies sent together: results for the valid, the catalogue code for the bad', async () => {
    const studies = [syntheticPetStudy({ slices: 12 }), syntheticPetStudy({ slices: 12 }), syntheticPetStudy({ slices: 12, omit: [6] })];
    await Promise.all(studies.map(async (s) => expect((await postStow(`${root}/dicomweb/studies`, s.instances)).status).toBe(200)));
    const [first, second, gap] = await Promise.all(studies.map(analysed));
    for (const jobs of [first, second]) {
      expect(jobs?.map((j) => j.state)).toEqual(['done']);
      expect(jobs?.[0]?.result?.segSopInstanceUid).toBeTruthy();
      expect(Object.keys(jobs?.[0]?.timingsMs ?? {}).sort()).toEqual(['decode', 'inference', 'mip', 'select', 'store', 'suv', 'write']);
    }
    expect(gap?.map((j) => [j.state, j.failureCode])).toEqual([['failed', 'MIPSEG_VOLUME_INVALID']]);
  });

  test('SIGTERM closes the analysis threads and the process exits 0', async () => {
    const child = (mipseg as MipsegProcess).child;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
