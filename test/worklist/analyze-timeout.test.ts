import pino from 'pino';
import { jobsRouter, startGateway, type GatewayServer } from '@mipseg/gateway';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { startWorklistServer, type WorklistServer } from './worklist-server';

describe('POST /api/studies/{uid}/analyze while its study\'s planning does not end (a slow disk)', () => {
  let server: WorklistServer;
  let jobsApi: GatewayServer;
  let planned = 0;

  beforeAll(async () => {
    server = await startWorklistServer();
    indexSyntheticStudy(server.archive.index, syntheticStudy(0));
    // A plan that never ends: reading a series' first file from a hung volume, say.
    const pipeline = { queue: server.queue, analyzeNow: () => { planned++; return new Promise<never>(() => undefined); } };
    jobsApi = await startGateway({ config: server.config, archive: server.archive, log: pino({ level: 'silent' }),
      extraRouters: [{ path: '/api', router: jobsRouter(pipeline, server.archive, { analyzeAnswerTimeoutMs: 300 }) }] });
  });
  afterAll(async () => {
    await jobsApi?.close(1000);
    await server?.stop();
  });

  test('answers 503 MIPSEG_BUSY after its limit, saying the planning goes on, rather than hold the click', async () => {
    const res = await fetch(`http://127.0.0.1:${jobsApi.port}/api/studies/${syntheticStudy(0).studyInstanceUid}/analyze`, { method: 'POST' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_BUSY', message: expect.stringMatching(/takes longer than 0\.3 s .*it goes on/) });
    expect(planned).toBe(1);
  }, 10_000);
});
