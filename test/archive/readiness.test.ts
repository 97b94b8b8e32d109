import { closeSync, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createLogger } from '@mipseg/shared/log';
import { loadConfig } from '@mipseg/shared/config';
import { Archive } from '@mipseg/shared/store';
import { startGateway, type GatewayServer, type ReadinessCheck } from '@mipseg/gateway';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { postStow } from '../support/stow';

interface Readiness {
  readonly status: string;
  readonly failed?: string[];
  readonly checks: Record<string, string>;
}

interface LogLine {
  readonly msg: string;
  readonly check?: string;
}

/**
 * Overwrites the page of one table in an SQLite file (a small table is its root page alone): that table reads as
 * "database disk image is malformed", while the others, and a count of the instances, still answer.
 */
function corruptTable(path: string, table: string): void {
  const db = new Database(path, { readonly: true });
  const { rootpage } = db.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(table) as { rootpage: number };
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
}

describe('/readyz says whether the service can work, naming what stops it', () => {
  let dataDir: string;
  let archive: Archive;
  let gateway: GatewayServer | undefined;
  const lines: LogLine[] = [];
  const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-ready-'));
    archive = await Archive.open(dataDir, log);
    lines.length = 0;
  });
  afterEach(async () => {
    await gateway?.close(1000);
    gateway = undefined;
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string> = {}, readinessChecks: ReadinessCheck[] = []): Promise<string> {
    gateway = await startGateway({ config: loadConfig({ DATA_DIR: dataDir, PORT: '0', ...env }), archive, log, readinessChecks });
    return `http://127.0.0.1:${gateway.port}`;
  }

  async function probe(root: string): Promise<{ status: number; body: Readiness }> {
    const res = await fetch(`${root}/readyz`);
    return { status: res.status, body: (await res.json()) as Readiness };
  }

  test('answers 200 with each check ok on a working archive', async () => {
    const root = await start();
    expect(await probe(root)).toEqual({ status: 200, body: { status: 'ready', checks: { index: 'ok', writable: 'ok', disk: 'ok' } } });
  });

  test('answers 503 naming the disk while free space is below MIN_FREE_DISK_BYTES, and logs it once', async () => {
    const root = await start({ MIN_FREE_DISK_BYTES: String(Number.MAX_SAFE_INTEGER) });
    for (let k = 0; k < 2; k++) {
      expect(await probe(root)).toEqual({ status: 503, body: { status: 'not ready', failed: ['disk'],
        checks: { index: 'ok', writable: 'ok', disk: 'free space below MIN_FREE_DISK_BYTES' } } });
    }
    expect(lines.filter((l) => l.check === 'disk')).toHaveLength(1);
    expect((await fetch(`${root}/healthz`)).status).toBe(200); // alive all the same: liveness is not readiness
  });

  test('MIN_FREE_DISK_BYTES=0 leaves free space unchecked', async () => {
    const root = await start({ MIN_FREE_DISK_BYTES: '0' });
    expect((await probe(root)).body.checks).toEqual({ index: 'ok', writable: 'ok' });
  });

  test('answers 503 naming the index when part of its file is corrupted, though it still counts instances', async () => {
    const base = await start();
    const instance = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.7701', imagePositionPatient: [0, 0, 0] }));
    expect((await postStow(`${base}/dicomweb/studies`, [instance])).status).toBe(200);
    await gateway?.close(1000);
    archive.close();
    corruptTable(join(dataDir, 'index.sqlite'), 'studies');
    archive = await Archive.open(dataDir, log);
    const root = await start();
    const { status, body } = await probe(root);
    expect(status).toBe(503);
    expect(body.failed).toEqual(['index']);
    expect(body.checks['index']).toBe('failed (SQLITE_CORRUPT)');
    expect(archive.index.countInstances()).toBe(1); // what the old /readyz asked, and took for ready
    expect((await fetch(`${root}/dicomweb/studies`)).status).toBe(500); // what /readyz foretold
  });

  test('answers 503 naming DATA_DIR when it takes no writes (a volume remounted read-only), though every read still answers', async () => {
    const root = await start();
    // What a read-only remount does to a write, without the remount: tmp/ cannot be written into.
    await rm(join(dataDir, 'tmp'), { recursive: true });
    writeFileSync(join(dataDir, 'tmp'), 'not a folder');
    const { status, body } = await probe(root);
    expect([status, body.failed, body.checks['writable'], body.checks['index']]).toEqual([503, ['writable'], 'failed (ENOTDIR)', 'ok']);
    await rm(join(dataDir, 'tmp'));
    mkdirSync(join(dataDir, 'tmp'));
    expect((await probe(root)).status).toBe(200);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]); // the probe leaves no file behind
  });

  test('answers 503 naming a check the caller adds that fails, or that does not answer within 2 s', async () => {
    let calls = 0;
    const hanging: ReadinessCheck = { name: 'queue', check: () => { calls += 1; return new Promise<void>(() => undefined); } };
    const failing: ReadinessCheck = { name: 'outbox', check: () => { throw Object.assign(new Error('/data/outbox.sqlite: no'), { code: 'SQLITE_CANTOPEN' }); } };
    const root = await start({}, [hanging, failing]);
    const probes = await Promise.all([probe(root), probe(root)]);
    for (const { status, body } of probes) {
      expect(status).toBe(503);
      expect(body).toEqual({ status: 'not ready', failed: ['queue', 'outbox'],
        checks: { index: 'ok', writable: 'ok', disk: 'ok', queue: 'no answer within 2000 ms', outbox: 'failed (SQLITE_CANTOPEN)' } });
    }
    expect(calls).toBe(1); // the second probe waited for the first one's check instead of starting another
    // Nor does a probe after the timeout start another while that one still hangs: on a stalled volume, each
    // would hold one of libuv's four threads, and file reads everywhere in the process would stall behind them.
    expect((await probe(root)).body).toMatchObject({ checks: { queue: 'no answer within 2000 ms' } });
    expect(calls).toBe(1);
  });

  test('answers 200 but names as degraded a failing check that is not required (the job queue: ingest goes on)', async () => {
    let up = false;
    const queue: ReadinessCheck = { name: 'queue', required: false,
      check: () => { if (!up) throw Object.assign(new Error('Redis is not connected (reconnecting)'), { code: 'MIPSEG_QUEUE_UNAVAILABLE' }); } };
    const root = await start({}, [queue]);
    expect(await probe(root)).toEqual({ status: 200, body: { status: 'ready', degraded: ['queue'],
      checks: { index: 'ok', writable: 'ok', disk: 'ok', queue: 'failed (MIPSEG_QUEUE_UNAVAILABLE)' } } });
    expect(lines.filter((l) => l.check === 'queue').map((l) => l.msg)).toEqual(['readiness check failed: /readyz answers 200, degraded']);

    up = true;
    expect(await probe(root)).toEqual({ status: 200, body: { status: 'ready', checks: { index: 'ok', writable: 'ok', disk: 'ok', queue: 'ok' } } });
  });
});
