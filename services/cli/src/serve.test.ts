import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI, killAndWait, startMipsegProcess, type MipsegProcess } from '../../../test/support/mipseg-process';
import { waitForJobs } from '../../../test/support/pipeline-wait';
import { postStow } from '../../../test/support/stow';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';

/**
 * Runs `mipseg serve` to its end, for a start that is expected to fail; one that starts instead is killed
 * (and its exit code is then null), so that the test fails rather than waits.
 */
function runServe(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, DIMSE_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (stdout.includes('"mipseg ready"')) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr, ms: Date.now() - started });
  }));
}

describe('two mipseg serve processes on one DATA_DIR', () => {
  let dataDir: string;
  const running: MipsegProcess[] = [];
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-two-serves-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => killAndWait(p.child, 'SIGKILL')));
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the second fails at once naming DATA_DIR and changes nothing; once the first is killed the directory is free', async () => {
    const first = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    running.push(first);
    // What an upload in progress looks like on disk: the second process must not take it for crash debris.
    const upload = join(dataDir, 'tmp', 'in-flight.part');
    writeFileSync(upload, 'half an instance');

    // Its port is the first one's too: the directory is refused before any port is tried.
    const second = await runServe({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', PORT: String(first.httpPort) });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`MIPSEG_DATA_DIR_LOCKED: DATA_DIR in use: ${dataDir} is held by another mipseg process`);
    expect(second.ms).toBeLessThan(20_000);
    expect(existsSync(upload)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${first.httpPort}/dicomweb/studies`)).status).toBe(200);

    // The kernel drops a killed process's lock: no stale lock to clear by hand.
    await killAndWait(first.child, 'SIGKILL');
    const third = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    running.push(third);
    expect((await fetch(`http://127.0.0.1:${third.httpPort}/dicomweb/studies`)).status).toBe(200);
  });
});

describe('mipseg serve on a DATA_DIR written by a newer release', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-newer-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('refuses to start, naming the index and its version, and exits non-zero', async () => {
    const index = join(dataDir, 'index.sqlite');
    const newer = new Database(index);
    newer.pragma('user_version = 7');
    newer.close();
    const run = await runServe({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', PORT: '0' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`MIPSEG_SCHEMA_NEWER: database from a newer release: ${index} was written by a newer mipseg (archive index schema version 7`);
  });
});

describe('mipseg serve with ALLOW_STUDY_DELETE', () => {
  let dataDir: string;
  let service: MipsegProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-serve-delete-'));
  });
  afterAll(async () => {
    if (service) await killAndWait(service.child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('refuses to delete a study whose analysis is pending (409), and deletes it once its job has finished', async () => {
    service = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', ALLOW_STUDY_DELETE: 'true', QUIET_PERIOD_MS: '1500' });
    const root = `http://127.0.0.1:${service.httpPort}`;
    const instance = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.9301.1', seriesInstanceUid: '2.25.9301', imagePositionPatient: [0, 0, 0],
      attributes: { StudyInstanceUID: '2.25.9300' } }));
    expect((await postStow(`${root}/dicomweb/studies`, [instance])).status).toBe(200);

    const early = await fetch(`${root}/dicomweb/studies/2.25.9300`, { method: 'DELETE' });
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ code: 'MIPSEG_STUDY_BUSY' });

    // One slice is too few for a whole-body PET: the study's job ends "not applicable" after the quiet period.
    const jobs = await waitForJobs(root, '2.25.9300', (list) => list.some((j) => j.state === 'not-applicable'), 30_000);
    expect(jobs).toHaveLength(1);
    const res = await fetch(`${root}/dicomweb/studies/2.25.9300`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ studyInstanceUid: '2.25.9300', deletedInstances: 1 });
    expect(await (await fetch(`${root}/dicomweb/studies?StudyInstanceUID=2.25.9300`)).json()).toEqual([]);
  });
});

describe('mipseg serve after a kill in the middle of a replacement', () => {
  let dataDir: string;
  let service: MipsegProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-serve-interrupted-'));
  });
  afterAll(async () => {
    if (service) await killAndWait(service.child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const copy = (instanceNumber: number): Buffer => Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.9311.1', seriesInstanceUid: '2.25.9311',
    imagePositionPatient: [0, 0, 0], attributes: { StudyInstanceUID: '2.25.9310', InstanceNumber: instanceNumber } }));

  test('writes the instance\'s index row again from the file in place, and says so', async () => {
    service = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', QUIET_PERIOD_MS: '3600000', LOG_LEVEL: 'info' });
    expect((await postStow(`http://127.0.0.1:${service.httpPort}/dicomweb/studies`, [copy(1)])).status).toBe(200);
    await killAndWait(service.child, 'SIGKILL');
    // What a kill between a replacement's rename and its index row leaves: the old copy kept under retired/ (a second
    // name of its file), the new copy in place, the row the old copy's.
    const key = join('instances', '2.25.9310', '2.25.9311', '2.25.9311.1.dcm');
    const retired = join(dataDir, 'retired', `${key}.${createHash('sha256').update(copy(1)).digest('hex').slice(0, 16)}.${Date.now()}`);
    mkdirSync(dirname(retired), { recursive: true });
    linkSync(join(dataDir, key), retired);
    writeFileSync(join(dataDir, 'tmp', 'replacement.part'), copy(2));
    renameSync(join(dataDir, 'tmp', 'replacement.part'), join(dataDir, key));

    service = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', QUIET_PERIOD_MS: '3600000', LOG_LEVEL: 'info' });
    const instanceNumber = async (): Promise<unknown> => {
      const res = await fetch(`http://127.0.0.1:${String(service?.httpPort)}/dicomweb/studies/2.25.9310/instances`);
      return ((await res.json()) as Array<Record<string, { Value?: unknown[] }>>)[0]?.['00200013']?.Value?.[0];
    };
    const deadline = Date.now() + 20_000;
    while ((await instanceNumber()) !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await instanceNumber()).toBe(2);
    expect(service.output()).toContain('replacements a process did not finish: index rows written again from the files in place');
  });
});

describe('mipseg serve --insecure on a non-loopback address', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-insecure-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('says at start-up that only loopback Host names are served until ALLOWED_HOSTS lists others', async () => {
    const run = await runServe({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', PORT: '0', HOST: '0.0.0.0' }, ['--insecure']);
    const warnings = run.stdout.split('\n').filter((l) => l.includes('"level":40')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(warnings).toEqual(['listening WITHOUT authentication (--insecure)', expect.stringMatching(/^ALLOWED_HOSTS is empty: requests whose Host is not localhost/)]);

    const allowed = await runServe({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false', PORT: '0', HOST: '0.0.0.0', ALLOWED_HOSTS: 'pet-ai.example.org' }, ['--insecure']);
    expect(allowed.stdout).not.toContain('ALLOWED_HOSTS is empty');
  });
});

describe('mipseg --version', () => {
  test('prints the release this build is (package.json\'s version) and exits 0', () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    const run = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect([run.status, run.stdout.trim()]).toEqual([0, version]);
  });
});
