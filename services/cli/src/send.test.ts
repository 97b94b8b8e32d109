import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../../../test/support/mipseg-process';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { sendFiles } from './send';

describe('mipseg send --batch-size', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-send-'));
    writeFileSync(join(dir, 'a.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.9001', imagePositionPatient: [0, 0, 0] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['0', '-1', 'abc', '2.5', '10001'])('%s is refused before anything is sent', (value) => {
    // Port 9 (discard): a send that got as far as the network would fail there, not hang or flood a server.
    const run = spawnSync(process.execPath, [CLI, 'send', dir, '--url', 'http://127.0.0.1:9/dicomweb', '--batch-size', value],
      { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/--batch-size.*a whole number from 1 to 10000/s);
  });

  test('sendFiles refuses a batch size below 1 rather than loop without sending', async () => {
    await expect(sendFiles([join(dir, 'a.dcm')], { url: 'http://127.0.0.1:9/dicomweb', batchSize: 0, progress: false }))
      .rejects.toThrow(/batch size must be a whole number/);
  });
});
