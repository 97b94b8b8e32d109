import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendFiles } from '../../services/cli/src/send';
import { makeSeriesCopies, type SeriesCopy } from '../bench/series-copies';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess, startMipsegWorker, type MipsegProcess } from '../support/mipseg-process';
import { startOrthanc, type OrthancServer } from '../support/orthanc';
import { startRedis, type TestRedis } from '../support/redis';
import { waitForJobs, type ApiJob } from '../support/pipeline-wait';
import { until } from '../support/until';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
type Json = Record<string, { Value?: unknown[] }>;

describeWithSharedData(GE)('queue mode: BullMQ on Redis with separate worker processes', () => {
  let redis: TestRedis;
  let orthanc: OrthancServer;
  let dataDir: string;
  let copiesDir: string;
  let copies: SeriesCopy[];
  let gateway: MipsegProcess;
  let workers: MipsegProcess[] = [];
  let env: Record<string, string>;
  let common: Record<string, string>;
  let root: string;

  const startWorker = async () => {
    const w = await startMipsegWorker(env);
    workers.push(w);
    return w;
  };
  const segSeriesCount = async (study: string) => {
    const series = (await (await fetch(`${root}/dicomweb/studies/${study}/series`)).json()) as Json[];
    return series.filter((s) => s['00080060']?.Value?.[0] === 'SEG').length;
  };
  const send = (copy: SeriesCopy) => sendFiles(copy.files, { url: `${root}/dicomweb`, batchSize: 100, progress: false });
  const finished = (jobs: ApiJob[]) => jobs.some((j) => j.state === 'done' || j.state === 'failed');

  beforeAll(async () => {
    redis = await startRedis();
    orthanc = await startOrthanc();
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-queue-'));
    copiesDir = mkdtempSync(join(tmpdir(), 'mipseg-queue-copies-'));
    copies = await makeSeriesCopies(sharedData(GE).path, copiesDir, 4);
    common = { REDIS_URL: redis.url, QUEUE_PREFIX: `q-${randomUUID()}`, QUIET_PERIOD_MS: '1000', JOB_LOCK_MS: '3000',
      JOB_BACKOFF_MS: '500',
      // Both kinds of destination, each with its own export queue in Redis, worked by the worker processes.
      EXPORT_DESTINATIONS: `stow:${orthanc.dicomwebUrl},dimse:${orthanc.aet}@127.0.0.1:${orthanc.dicomPort}`, EXPORT_BACKOFF_MS: '500' };
    gateway = await startMipsegProcess({ ...common, DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    root = `http://127.0.0.1:${gateway.httpPort}`;
    env = { ...common, GATEWAY_URL: `${root}/dicomweb`, DATA_DIR: join(dataDir, 'worker-unused') };
    await startWorker();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => killAndWait(w.child, 'SIGKILL')));
    await killAndWait(gateway.child, 'SIGTERM');
    await redis.stop();
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(copiesDir, { recursive: true, force: true });
  });

  test('a worker process takes the job from Redis and stores MIP + SEG through the gateway', async () => {
    const copy = copies[0] as SeriesCopy;
    await send(copy);
    const jobs = await waitForJobs(root, copy.studyInstanceUid, finished);
    expect(jobs[0]?.state).toBe('done');
    expect(await segSeriesCount(copy.studyInstanceUid)).toBe(1);
    expect(await (await fetch(`${root}/readyz`)).json()).toEqual({ status: 'ready', checks: { index: 'ok', writable: 'ok', disk: 'ok', queue: 'ok' } });

    // The worker sends the results to Orthanc by STOW-RS and by C-STORE; the gateway shows both as sent.
    const sent = await waitForJobs(root, copy.studyInstanceUid,
      (j) => (j[0]?.exports ?? []).length === 2 && (j[0]?.exports ?? []).every((e) => e.state === 'sent'), 60_000);
    expect(sent[0]?.exports.map((e) => e.destination.split(':')[0]).sort()).toEqual(['dimse', 'stow']);
    const seg = sent[0]?.result?.segSopInstanceUid;
    expect(await orthanc.rest<string[]>('POST', '/tools/find', { Level: 'Instance', Query: { SOPInstanceUID: seg } })).toHaveLength(1);
  });

  test('a worker killed in the middle of a job: the job completes after a restart, once', async () => {
    const copy = copies[1] as SeriesCopy;
    await send(copy);
    await waitForJobs(root, copy.studyInstanceUid, (jobs) => jobs.some((j) => j.state === 'running'));
    await Promise.all(workers.map((w) => killAndWait(w.child, 'SIGKILL')));
    workers = [];
    await startWorker();
    const jobs = await waitForJobs(root, copy.studyInstanceUid, finished, 120_000);
    expect(jobs.filter((j) => j.id.startsWith('seg-'))).toHaveLength(1);
    expect(jobs[0]?.state).toBe('done');
    expect(await segSeriesCount(copy.studyInstanceUid)).toBe(1);
  });

  test('Redis restarted mid-run: no job is lost', async () => {
    const copy = copies[2] as SeriesCopy;
    await send(copy);
    // The study check is pending (inside its quiet period) when Redis goes down.
    await redis.kill();
    await new Promise((r) => setTimeout(r, 500));
    await redis.start();
    const jobs = await waitForJobs(root, copy.studyInstanceUid, finished, 120_000);
    expect(jobs[0]?.state).toBe('done');
    expect(await segSeriesCount(copy.studyInstanceUid)).toBe(1);
  });

  test('instances stored while Redis is down, the gateway killed before it is back: the study is analysed once it is', async () => {
    const copy = copies[3] as SeriesCopy;
    await redis.kill();
    await send(copy); // stored and acknowledged; the study check cannot reach Redis
    // Still ready, since it still stores what it is sent; the queue is named as degraded for monitoring.
    const readyz = await until(async () => {
      const res = await fetch(`${root}/readyz`);
      const body = (await res.json()) as { degraded?: string[] };
      return body.degraded ? { status: res.status, body } : undefined;
    }, '/readyz to name the queue');
    expect(readyz).toEqual({ status: 200, body: { status: 'ready', degraded: ['queue'],
      checks: { index: 'ok', writable: 'ok', disk: 'ok', queue: 'failed (MIPSEG_QUEUE_UNAVAILABLE)' } } });
    // The worklist and the jobs API say the queue is away, rather than leave the page loading until Redis is back.
    for (const path of ['/api/worklist', `/api/jobs?study=${copy.studyInstanceUid}`]) {
      const res = await fetch(`${root}${path}`, { signal: AbortSignal.timeout(5000) });
      expect({ path, status: res.status, code: ((await res.json()) as { code?: string }).code })
        .toEqual({ path, status: 503, code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    }
    await killAndWait(gateway.child, 'SIGKILL');
    await redis.start();
    gateway = await startMipsegProcess({ ...common, DATA_DIR: dataDir, DIMSE_ENABLED: 'false', PORT: String(gateway.httpPort) });
    const jobs = await waitForJobs(root, copy.studyInstanceUid, finished, 120_000);
    expect(jobs.filter((j) => j.id.startsWith('seg-'))).toHaveLength(1);
    expect(jobs[0]?.state).toBe('done');
    expect(await segSeriesCount(copy.studyInstanceUid)).toBe(1);
  });
});
