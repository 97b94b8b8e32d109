import { createLogger } from '@mipseg/shared/log';
import { startWorklistServer, type WorklistServer } from './worklist-server';

describe('worklist API logs', () => {
  let server: WorklistServer;
  const raw: string[] = [];
  beforeAll(async () => {
    server = await startWorklistServer({}, undefined, (model) => model, createLogger('info', { write: (line: string) => raw.push(line) }));
  });
  afterAll(() => server.stop());

  test('an invalid UID typed into a query parameter is refused, and its value is not logged', async () => {
    const res = await fetch(`${server.root}/api/studies/1.2.3/overlay.png?seg=Jones%5EMary`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_INVALID_UID' });
    for (let k = 0; k < 100 && !raw.some((l) => l.includes('"msg":"request"')); k++) await new Promise((r) => setTimeout(r, 20));
    expect(raw.some((l) => l.includes('invalid UID (values are not logged)'))).toBe(true);
    expect(raw.join('\n')).not.toMatch(/Jones|Mary/);
  });
});
