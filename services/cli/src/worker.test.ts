import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/support/redis';
import { killAndWait, startMipsegWorker, type MipsegProcess } from '../../../test/support/mipseg-process';
import { CLOSE_TIMEOUT_MS } from './close-within';

interface Line { msg?: string; part?: string }

describe('mipseg worker while Redis is unreachable', () => {
  let dataDir: string;
  let worker: MipsegProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-worker-'));
  });
  afterAll(async () => {
    if (worker) await killAndWait(worker.child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('logs the outage once as JSON, and on SIGTERM exits non-zero within the bound, naming what did not close', async () => {
    // A port nothing listens on: every connection attempt is refused.
    const redisUrl = `redis://127.0.0.1:${await freePort()}`;
    worker = await startMipsegWorker({ REDIS_URL: redisUrl, GATEWAY_URL: 'http://127.0.0.1:9/dicomweb', DATA_DIR: dataDir });
    await new Promise((r) => setTimeout(r, 2000));

    const signalled = Date.now();
    const exited = new Promise<number | null>((resolve) => worker?.child.once('exit', (code) => resolve(code)));
    worker.child.kill('SIGTERM');
    const timer = setTimeout(() => worker?.child.kill('SIGKILL'), CLOSE_TIMEOUT_MS + 15_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(CLOSE_TIMEOUT_MS + 5_000);

    const lines = worker.output().split('\n').filter((l) => l.trim() !== '');
    const raw = lines.filter((l) => !l.startsWith('{'));
    expect(raw).toEqual([]);
    const logged = lines.map((l) => JSON.parse(l) as Line);
    expect(logged.filter((l) => l.msg?.startsWith('Redis unreachable'))).toHaveLength(1);
    expect(logged.find((l) => l.msg?.includes('did not close'))?.part).toBe('pipeline (job queue and analysis threads)');
  });
});
