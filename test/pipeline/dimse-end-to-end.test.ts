import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, type ToolRun } from '../dimse/dimse-test-kit';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const AE_TITLE = 'MIPSEG';
type Json = Record<string, { Value?: unknown[] }>;

async function qido(url: string): Promise<Json[]> {
  const res = await fetch(url, { headers: { Accept: 'application/dicom+json' } });
  expect(res.status).toBe(200);
  return (await res.json()) as Json[];
}

const first = (item: Json | undefined, tag: string): unknown => item?.[tag]?.Value?.[0];

describeWithSharedData(GE)('the GE whole-body series sent by storescu (C-STORE) through the embedded pipeline', () => {
  let dataDir: string;
  let mipseg: MipsegProcess;
  let root: string;
  let sent: ToolRun;
  let study: string;
  let jobs: ApiJob[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-dimse-e2e-'));
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: '1500', DIMSE_AE_TITLE: AE_TITLE });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    // +sp *.dcm: the folder also holds the data's LICENSE, which is no DICOM file.
    sent = await runTool('storescu', ['-aet', 'STORESCU', '-aec', AE_TITLE, '+sd', '+sp', '*.dcm', '127.0.0.1',
      String(mipseg.dimsePort), sharedData(GE).path], 180_000);
    const studies = await qido(`${root}/dicomweb/studies`);
    study = String(first(studies[0], '0020000D'));
    jobs = await waitForJobs(root, study, (j) => j.some((x) => ['done', 'failed', 'not-applicable'].includes(x.state)), 150_000);
  }, 400_000);

  afterAll(async () => {
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('storescu stores every instance of the folder', async () => {
    expect(sent.code).toBe(0);
    const files = readdirSync(sharedData(GE).path).filter((f) => f.endsWith('.dcm'));
    // The results (a PT MIP and a SEG) are in the study too: count the instances of the GE series alone.
    const series = await qido(`${root}/dicomweb/studies/${study}/series?Modality=PT`);
    expect(series.map((x) => Number(first(x, '00201209'))).sort((a, b) => a - b)).toEqual([1, files.length]);
  });

  test('one job completes', () => {
    expect(jobs).toHaveLength(1);
    const [job] = jobs as [ApiJob];
    expect({ state: job.state, failureCode: job.failureCode, failureReason: job.failureReason })
      .toEqual({ state: 'done', failureCode: null, failureReason: null });
  });

  test('QIDO lists the MIP (PT) and the SEG series of the result in the study', async () => {
    const result = (jobs[0] as ApiJob).result as NonNullable<ApiJob['result']>;
    const series = await qido(`${root}/dicomweb/studies/${study}/series`);
    const modalityOf = new Map(series.map((s) => [String(first(s, '0020000E')), first(s, '00080060')]));
    expect(modalityOf.get(result.mipSeriesInstanceUid)).toBe('PT');
    expect(modalityOf.get(result.segSeriesInstanceUid)).toBe('SEG');
    expect([...modalityOf.values()].sort()).toEqual(['PT', 'PT', 'SEG']);
    const segInstances = await qido(`${root}/dicomweb/studies/${study}/series/${result.segSeriesInstanceUid}/instances`);
    expect(segInstances.map((i) => first(i, '00080018'))).toEqual([result.segSopInstanceUid]);
  });
});
