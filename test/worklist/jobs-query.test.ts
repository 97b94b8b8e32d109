import type { JobRecord } from '@mipseg/shared/queue';
import { syntheticStudy } from './synthetic-studies';
import { startWorklistServer, type WorklistServer } from './worklist-server';

describe('the jobs API query parameters', () => {
  let server: WorklistServer;
  const studyA = syntheticStudy(0).studyInstanceUid;
  const studyB = syntheticStudy(1).studyInstanceUid;
  const jobs = (query: string) => fetch(`${server.root}/api/jobs?${query}`);

  beforeAll(async () => {
    server = await startWorklistServer();
    await server.queue.recordNotApplicable('job-a', studyA, 'no PET');
    await server.queue.recordNotApplicable('job-b', studyB, 'no PET');
  });
  afterAll(() => server?.stop());

  test('lists only the jobs of the study asked for', async () => {
    const res = await jobs(`study=${studyA}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as JobRecord[]).map((j) => j.studyInstanceUid)).toEqual([studyA]);
  });

  test('refuses a repeated study with 400 MIPSEG_BAD_QUERY rather than listing every patient\'s jobs', async () => {
    for (const query of [`study=${studyA}&study=${studyA}`, `study=${studyA}&study=${studyB}`]) {
      const res = await jobs(query);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
  });

  test('refuses a repeated limit, offset or state with 400 MIPSEG_BAD_QUERY', async () => {
    for (const query of ['limit=10&limit=10', 'offset=0&offset=0', 'state=done&state=done']) {
      const res = await jobs(query);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
  });

  test('refuses a limit or offset that is not plain decimal digits with 400 MIPSEG_BAD_QUERY', async () => {
    for (const query of ['limit=1e2', 'limit=0x10', 'limit=%2010', 'offset=', 'limit=', 'offset=-1', 'limit=2.0']) {
      const res = await jobs(query);
      expect([query, res.status]).toEqual([query, 400]);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
    expect((await jobs('limit=1&offset=1')).status).toBe(200);
  });
});
