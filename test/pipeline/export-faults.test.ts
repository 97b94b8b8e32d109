import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listFiles, sendFiles } from '../../services/cli/src/send';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../support/mipseg-process';
import { findFreePort, startOrthanc, type OrthancServer } from '../support/orthanc';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
type Json = Record<string, { Value?: unknown[] }>;

describeWithSharedData(GE)('export to a PACS that is down', () => {
  let dataDir: string;
  let mipseg: MipsegProcess;
  let orthanc: OrthancServer | undefined;
  let httpPort: number;
  let destination: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-export-'));
    httpPort = await findFreePort();
    destination = `stow:http://127.0.0.1:${httpPort}/dicom-web`;
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', QUIET_PERIOD_MS: '1000',
      EXPORT_DESTINATIONS: destination, EXPORT_ATTEMPTS: '3', EXPORT_BACKOFF_MS: '300' });
  }, 60_000);

  afterAll(async () => {
    await killAndWait(mipseg.child, 'SIGTERM');
    await orthanc?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('retries with backoff, then shows a failure with its reason; a later retry succeeds', async () => {
    const root = `http://127.0.0.1:${mipseg.httpPort}`;
    const files = (await listFiles(sharedData(GE).path)).filter((f) => f.endsWith('.dcm'));
    await sendFiles(files, { url: `${root}/dicomweb`, batchSize: 100, progress: false });
    const [study] = (await (await fetch(`${root}/dicomweb/studies`)).json()) as Json[];
    const studyUid = String(study?.['0020000D']?.Value?.[0]);
    const failed = await waitForJobs(root, studyUid, (jobs) => jobs[0]?.exports[0]?.state === 'failed', 120_000);
    const job = failed[0] as ApiJob;
    expect(job.state).toBe('done');
    expect(job.exports[0]).toMatchObject({ destination, state: 'failed', attempts: 3 });
    expect(job.exports[0]?.detail).toMatch(/STOW-RS|fetch failed|ECONNREFUSED/);

    orthanc = await startOrthanc({ httpPort });
    const retry = await fetch(`${root}/api/jobs/${job.id}/exports/${encodeURIComponent(destination)}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    await waitForJobs(root, studyUid, (jobs) => jobs[0]?.exports[0]?.state === 'sent', 60_000);
    // Asked again (a second click): the export is sent, not missing, and is left as it is.
    const again = await fetch(`${root}/api/jobs/${job.id}/exports/${encodeURIComponent(destination)}/retry`, { method: 'POST' });
    expect([again.status, await again.json()]).toEqual([409, expect.objectContaining({ code: 'MIPSEG_EXPORT_NOT_FAILED' })]);
    const elsewhere = await fetch(`${root}/api/jobs/${job.id}/exports/${encodeURIComponent('stow:http://127.0.0.1:9/none')}/retry`, { method: 'POST' });
    expect(elsewhere.status).toBe(404);
    const found = await orthanc.rest<string[]>('POST', '/tools/find', { Level: 'Instance', Query: { SOPInstanceUID: job.result?.segSopInstanceUid } });
    expect(found).toHaveLength(1);
  });
});
