import pino from 'pino';
import { jobsRouter, startGateway, type GatewayServer } from '@mipseg/gateway';
import type { WorklistPage } from '../../services/gateway/src/worklist/worklist-types';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { startWorklistServer, type WorklistServer } from './worklist-server';

/** More studies than SQLite's 32,766 bound variables: a state filter once bound one per study. */
const STUDIES_IN_STATE = 33_000;

describe('the worklist state filter and the jobs API paging', () => {
  let server: WorklistServer;
  let jobsApi: GatewayServer;
  const uid = (i: number) => syntheticStudy(i).studyInstanceUid;

  beforeAll(async () => {
    server = await startWorklistServer();
    for (let i = 0; i < 5; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    // Studies 0-4 are indexed; the rest have a job but no instances (deleted, or not arrived yet).
    for (let i = 0; i < STUDIES_IN_STATE; i++) await server.queue.recordNotApplicable(`na-${i}`, uid(i), 'no PET');
    const pipeline = { queue: server.queue, analyzeNow: () => Promise.reject(new Error('not in this test')) };
    jobsApi = await startGateway({ config: server.config, archive: server.archive, log: pino({ level: 'silent' }),
      extraRouters: [{ path: '/api', router: jobsRouter(pipeline, server.archive) }] });
  }, 120_000);
  afterAll(async () => {
    await jobsApi?.close(1000);
    await server?.stop();
  });

  test(`filters on a state that ${STUDIES_IN_STATE} studies are in`, async () => {
    const res = await fetch(`${server.root}/api/worklist?state=not-applicable&limit=10`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as WorklistPage;
    expect(page.studies.map((s) => s.studyInstanceUid).sort()).toEqual([0, 1, 2, 3, 4].map(uid).sort());
    expect(page.studies.every((s) => s.ai.state === 'not-applicable')).toBe(true);
    expect(page.hasMore).toBe(false);
  });

  test('refuses a jobs offset beyond safe integers with 400 MIPSEG_BAD_QUERY; the largest safe offset lists nothing', async () => {
    const root = `http://127.0.0.1:${jobsApi.port}/api/jobs`;
    for (const offset of ['1e20', '9007199254740992']) {
      const res = await fetch(`${root}?offset=${offset}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
    const last = await fetch(`${root}?offset=${Number.MAX_SAFE_INTEGER}`);
    expect(last.status).toBe(200);
    expect(await last.json()).toEqual([]);
  });
});
