import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorklistServer, type WorklistServer } from './worklist-server';

// The viewer's files can go missing under a running server (`npm run install:ohif` replaces them, a disk is
// unmounted): that is the server's fault, and the answer must not show where the files are.
describe('the viewer page when its installed files are missing', () => {
  let server: WorklistServer;
  let ohifDist: string;
  beforeAll(async () => {
    ohifDist = mkdtempSync(join(tmpdir(), 'mipseg-ohif-'));
    server = await startWorklistServer({}, ohifDist);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(ohifDist, { recursive: true, force: true });
  });

  test('answers 500 MIPSEG_INTERNAL without the path, not a 400 blaming the request', async () => {
    const res = await fetch(`${server.root}/viewer?StudyInstanceUIDs=1.2.3`);
    const body = await res.json() as { code: string; message: string };
    expect({ status: res.status, code: body.code }).toEqual({ status: 500, code: 'MIPSEG_INTERNAL' });
    expect(body.message).not.toContain(ohifDist);
    expect(body.message).not.toContain('ENOENT');
  });
});
