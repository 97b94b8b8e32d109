import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listFiles, sendFiles } from '../../services/cli/src/send';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
type Json = Record<string, { Value?: unknown[] }>;
const segJobs = (jobs: ApiJob[]) => jobs.filter((j) => j.id.startsWith('seg-'));

describeWithSharedData(GE)('study-complete detection in embedded mode', () => {
  let dataDir: string;
  let mipseg: MipsegProcess | undefined;
  let files: string[];
  const env = () => ({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', QUIET_PERIOD_MS: '3000' });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-tracking-'));
    files = (await listFiles(sharedData(GE).path)).filter((f) => f.endsWith('.dcm'));
  });
  afterAll(async () => {
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a restart inside the quiet period neither loses nor duplicates the pending study', async () => {
    mipseg = await startMipsegProcess(env());
    let root = `http://127.0.0.1:${mipseg.httpPort}`;
    // The whole series, then the process dies inside the quiet period: the study is pending.
    await sendFiles(files, { url: `${root}/dicomweb`, batchSize: 100, progress: false });
    const [study] = (await (await fetch(`${root}/dicomweb/studies`)).json()) as Json[];
    const uid = String(study?.['0020000D']?.Value?.[0]);
    const pending = (await (await fetch(`${root}/api/studies/${uid}/results`)).json()) as { waitingForInstances: boolean };
    expect(pending.waitingForInstances).toBe(true);
    await killAndWait(mipseg.child, 'SIGKILL');

    mipseg = await startMipsegProcess(env());
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    const jobs = await waitForJobs(root, uid, (j) => segJobs(j).some((x) => x.state === 'done'));
    await new Promise((r) => setTimeout(r, 2000));
    expect(segJobs(await waitForJobs(root, uid, () => true))).toHaveLength(1);
    expect(jobs[0]?.state).toBe('done');
  });

  test('a corrected instance after the job ran makes a new result version, not a duplicate', async () => {
    const root = `http://127.0.0.1:${(mipseg as MipsegProcess).httpPort}`;
    // The last slice again, its UIDs kept and one value changed: a corrected re-send (the series was complete:
    // NumberOfSlices 267, so an extra slice is not what a scanner sends late).
    const corrected = join(dataDir, 'corrected.dcm');
    copyFileSync(files.at(-1) as string, corrected);
    const run = spawnSync('dcmodify', ['-nb', '-m', '(0008,0013)=235959', corrected], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    await sendFiles([corrected], { url: `${root}/dicomweb`, batchSize: 100, progress: false });
    const [study] = (await (await fetch(`${root}/dicomweb/studies`)).json()) as Json[];
    const uid = String(study?.['0020000D']?.Value?.[0]);
    const jobs = await waitForJobs(root, uid, (j) => segJobs(j).length === 2 && segJobs(j).every((x) => x.state === 'done')).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${(mipseg as MipsegProcess).output().slice(-3000)}`);
    });
    const versions = segJobs(jobs).map((j) => (j as ApiJob & { request: { version: number; instanceCount: number } }).request);
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2]);
    expect(versions.map((v) => v.instanceCount)).toEqual([267, 267]);
    const series = (await (await fetch(`${root}/dicomweb/studies/${uid}/series`)).json()) as Json[];
    expect(series.filter((s) => s['00080060']?.Value?.[0] === 'SEG')).toHaveLength(2);
  });
});
