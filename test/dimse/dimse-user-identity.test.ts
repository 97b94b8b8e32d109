import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, SCP_AE_TITLE, startTestDimse, syntheticInstance, type TestDimse } from './dimse-test-kit';

const PET = '1.2.840.10008.5.1.4.1.1.128';

/** As README's DIMSE section says: User Identity negotiation is not supported; it is ignored, never answered. */
describe('DIMSE SCP and an A-ASSOCIATE-RQ with User Identity negotiation', () => {
  let dimse: TestDimse;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dimse = await startTestDimse();
    dir = mkdtempSync(join(tmpdir(), 'mipseg-user-identity-'));
    file = join(dir, 'pet.dcm');
    writeFileSync(file, syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.8701', modality: 'PT' }));
  });
  afterAll(async () => {
    await dimse.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const storescu = (...flags: string[]) =>
    runTool('storescu', ['--user', 'reader', '--password', 'secret', ...flags, '-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), file]);

  test('is ignored: the association is accepted and the instance stored', async () => {
    expect((await storescu()).code).toBe(0);
    expect(dimse.archive.index.findInstance('2.25.8701')).toBeDefined();
  });

  test('gets no User Identity response, so an SCU that requires a positive one (--pos-response) gives up', async () => {
    const run = await storescu('--pos-response');
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/User Identity Negotiation failed/);
  });
});
