import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@mipseg/shared/config';
import type { JobRecord } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { jobsRouter, startGateway, type GatewayServer } from '@mipseg/gateway';
import { startPipeline, type PipelineRuntime } from '../../services/worker/src';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startRedis, type TestRedis } from '../support/redis';
import { until } from '../support/until';

const STUDY = '2.25.700'; // syntheticPetInstance's study

/**
 * The gateway's half of queue mode, wired as `mipseg serve` wires it (archive, pipeline without analyses, jobs API),
 * in-process, against a private Redis that the test stops.
 */
describe('POST /api/studies/{uid}/analyze in queue mode while Redis is away', () => {
  let redis: TestRedis;
  let dataDir: string;
  let archive: Archive;
  let pipeline: PipelineRuntime;
  let gateway: GatewayServer;
  /** The pipeline closes only once Redis answers: a failed test must bring it back before the clean-up. */
  let redisDown = false;
  const root = (): string => `http://127.0.0.1:${gateway.port}`;
  const analyze = (): Promise<Response> =>
    fetch(`${root()}/api/studies/${STUDY}/analyze`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  const studyJobs = async (): Promise<JobRecord[]> => (await (await fetch(`${root()}/api/jobs?study=${STUDY}`)).json()) as JobRecord[];

  beforeAll(async () => {
    redis = await startRedis();
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-analyze-redis-'));
    const log = pino({ level: 'silent' });
    // A quiet period longer than the test: only the clicks plan the study.
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_ENABLED: 'false', REDIS_URL: redis.url,
      QUEUE_PREFIX: `t-${randomUUID()}`, QUIET_PERIOD_MS: '600000' });
    archive = await Archive.open(dataDir, log);
    pipeline = await startPipeline({ config, log, archive, modelDir: '', softwareVersion: 'test', analyses: false });
    gateway = await startGateway({ config, archive, log, extraRouters: [{ path: '/api', router: jobsRouter(pipeline, archive) }] });
    const temp = join(dataDir, 'tmp', 'one.dcm');
    await writeFile(temp, syntheticPetInstance({ sopInstanceUid: '2.25.7201', imagePositionPatient: [0, 0, 0] }));
    await archive.storeFromTemp(temp);
  });

  /** Until the queue is connected again: closing it while it reconnects can wait for ever. */
  const reconnected = (): Promise<boolean> => until(() => pipeline.queue.ping().then(() => true, () => undefined), 'the queue to reach Redis again');

  afterAll(async () => {
    if (redisDown) {
      await redis.start();
      await reconnected();
    }
    await gateway?.close(1000);
    await pipeline?.close();
    archive?.close();
    await rm(dataDir, { recursive: true, force: true });
    await redis?.stop();
  });

  test('answers 503 MIPSEG_QUEUE_UNAVAILABLE at once, and the refused click does not run once Redis is back', async () => {
    const first = await analyze();
    expect(first.status).toBe(202);
    expect(await studyJobs()).toHaveLength(1);

    await redis.kill();
    redisDown = true;
    await until(() => pipeline.queue.ping().then(() => undefined, (err: unknown) => err), 'the queue to notice Redis is away');
    const started = Date.now();
    const refused = await analyze(); // before the fix: no answer until Redis is back (the 5 s abort fails the test)
    expect({ status: refused.status, code: ((await refused.json()) as { code?: string }).code })
      .toEqual({ status: 503, code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(3000);

    await redis.start();
    redisDown = false;
    await reconnected();
    expect(await studyJobs()).toHaveLength(1);
    const again = await analyze();
    expect(again.status).toBe(202);
    expect(await studyJobs()).toHaveLength(2);
  });
});
