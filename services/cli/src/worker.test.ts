import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/support/redis';
import { killAndWait, startMipsegWorker, type MipsegProcess } from '../../../test/support/mipseg-process';

interface Line { msg?: string; part?: string }

/** WORKER_SHUTDOWN_MS for the test: shorter than the default (50 s), and not the gateway's 15 s, so that it shows. */
const SHUTDOWN_MS = 8000;

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

  // With nothing in hand it has nothing to wait for: it used to wait WORKER_SHUTDOWN_MS on its reconnecting connection,
  // and exit 1 naming the pipeline, which under a supervisor's grace period shorter than that meant a SIGKILL each time.
  test('logs the outage once as JSON, and on SIGTERM with nothing in hand exits without waiting WORKER_SHUTDOWN_MS', async () => {
    // A port nothing listens on: every connection attempt is refused.
    const redisUrl = `redis://127.0.0.1:${await freePort()}`;
    worker = await startMipsegWorker({ REDIS_URL: redisUrl, GATEWAY_URL: 'http://127.0.0.1:9/dicomweb', DATA_DIR: dataDir,
      WORKER_SHUTDOWN_MS: String(SHUTDOWN_MS) });
    await new Promise((r) => setTimeout(r, 2000));

    const signalled = Date.now();
    const exited = new Promise<number | null>((resolve) => worker?.child.once('exit', (code) => resolve(code)));
    worker.child.kill('SIGTERM');
    const timer = setTimeout(() => worker?.child.kill('SIGKILL'), SHUTDOWN_MS + 15_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(SHUTDOWN_MS - 500);

    const lines = worker.output().split('\n').filter((l) => l.trim() !== '');
    const raw = lines.filter((l) => !l.startsWith('{'));
    expect(raw).toEqual([]);
    const logged = lines.map((l) => JSON.parse(l) as Line);
    expect(logged.filter((l) => l.msg?.startsWith('Redis unreachable'))).toHaveLength(1);
    expect(logged.filter((l) => l.msg?.includes('did not close'))).toEqual([]);
  });
});
