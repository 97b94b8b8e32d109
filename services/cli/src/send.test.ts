import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dcmjs from 'dcmjs';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestArchive, type TestArchiveServer } from '../../../test/support/archive-server';
import { CLI } from '../../../test/support/mipseg-process';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { freePort } from '../../../test/support/redis';
import { listFiles, sendFiles } from './send';

describe('listFiles (what mipseg send <folder> sends)', () => {
  let root: string;
  let dir: string;
  let elsewhere: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mipseg-list-'));
    dir = join(root, 'study');
    elsewhere = join(root, 'elsewhere');
    mkdirSync(dir);
    mkdirSync(join(elsewhere, 'series'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('follows symbolic links to files and folders, and walks a folder reached twice (a link cycle) once', async () => {
    writeFileSync(join(dir, 'a.dcm'), 'a');
    writeFileSync(join(elsewhere, 'b.dcm'), 'b');
    writeFileSync(join(elsewhere, 'series', 'c.dcm'), 'c');
    symlinkSync(join(elsewhere, 'b.dcm'), join(dir, 'b.dcm'));
    symlinkSync(join(elsewhere, 'series'), join(dir, 'series'), 'dir');
    // Cycles: the folder linked to itself, and back up from inside the linked folder.
    symlinkSync(dir, join(dir, 'again'), 'dir');
    symlinkSync(dir, join(elsewhere, 'series', 'up'), 'dir');
    expect(await listFiles(dir)).toEqual([join(dir, 'a.dcm'), join(dir, 'b.dcm'), join(dir, 'series', 'c.dcm')]);
  });

  test('lists a file reached again through a link beside it once, so that it is not sent and counted twice', async () => {
    writeFileSync(join(dir, 'a.dcm'), 'a');
    writeFileSync(join(dir, 'b.dcm'), 'b');
    symlinkSync(join(dir, 'a.dcm'), join(dir, 'z-link.dcm'));
    symlinkSync(join(dir, 'b.dcm'), join(elsewhere, 'b-link.dcm'));
    symlinkSync(elsewhere, join(dir, 'other'), 'dir');
    expect(await listFiles(dir)).toEqual([join(dir, 'a.dcm'), join(dir, 'b.dcm')]);
  });

  test('says on stderr how many hidden files and folders it skipped', async () => {
    writeFileSync(join(dir, 'a.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.9010', imagePositionPatient: [0, 0, 0] }));
    writeFileSync(join(dir, '.b.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.9011', imagePositionPatient: [0, 0, 4] }));
    writeFileSync(join(dir, '.DS_Store'), 'x');
    mkdirSync(join(dir, '.series'));
    writeFileSync(join(dir, '.series', 'c.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.9012', imagePositionPatient: [0, 0, 8] }));
    // Nothing listens there: the send fails after the listing, which is what is looked at.
    const run = spawnSync(process.execPath, [CLI, 'send', dir, '--url', `http://127.0.0.1:${await freePort()}/dicomweb`, '--no-progress'],
      { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toMatch(/skipping 2 hidden file\(s\) and 1 hidden folder\(s\) \(names starting with "\."\)/);
    expect(run.stdout).toMatch(/ of 1 files /);
  });

  test('fails on a dangling symbolic link, naming it, as on any file it cannot read', async () => {
    writeFileSync(join(dir, 'a.dcm'), 'a');
    symlinkSync(join(elsewhere, 'gone.dcm'), join(dir, 'gone.dcm'));
    await expect(listFiles(dir)).rejects.toMatchObject({ code: 'ENOENT', path: join(dir, 'gone.dcm') });
  });
});

describe('mipseg send --batch-size and --max-request-bytes', () => {
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

  test.each(['0', '-1', 'abc', '1.5', '1GiB'])('--max-request-bytes %s is refused before anything is sent', (value) => {
    const run = spawnSync(process.execPath, [CLI, 'send', dir, '--url', 'http://127.0.0.1:9/dicomweb', '--max-request-bytes', value],
      { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/--max-request-bytes.*a whole number of bytes from 1/s);
  });

  test('sendFiles refuses a batch size below 1 rather than loop without sending', async () => {
    await expect(sendFiles([join(dir, 'a.dcm')], { url: 'http://127.0.0.1:9/dicomweb', batchSize: 0, progress: false }))
      .rejects.toThrow(/batch size must be a whole number/);
  });
});

/** Runs a command to its end, asynchronously (the archive it sends to answers from this process). */
function runToEnd(command: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** A new folder of `count` PET slices, files named in sorted order (000.dcm, 001.dcm, …), UIDs `${uidPrefix}${i}`. */
function folderOfSlices(prefix: string, count: number, uidPrefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (let i = 0; i < count; i++) {
    writeFileSync(join(dir, `${String(i).padStart(3, '0')}.dcm`), syntheticPetInstance({ sopInstanceUid: `${uidPrefix}${i}`, imagePositionPatient: [0, 0, 4 * i] }));
  }
  return dir;
}

/** Runs the built CLI to its end. */
const runCli = (args: readonly string[]) => runToEnd(process.execPath, [CLI, ...args]);

describe('mipseg send to a server that stops reading a request (MAX_PARTS_PER_REQUEST)', () => {
  let dir: string;
  let server: TestArchiveServer;
  const FILES = 5;
  beforeAll(async () => {
    dir = folderOfSlices('mipseg-send-cut-', FILES, '2.25.9100');
    server = await startTestArchive({ MAX_PARTS_PER_REQUEST: '3' });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('counts the parts the 202 does not list as not stored, with the server\'s Warning', async () => {
    const files = [0, 1, 2, 3, 4].map((i) => join(dir, `00${i}.dcm`));
    const summary = await sendFiles(files, { url: server.baseUrl, batchSize: 100, progress: false });
    expect(summary).toMatchObject({ files: FILES, stored: 3, failed: 0, notStored: 2, statuses: [202] });
    expect(summary.warnings).toEqual([expect.stringMatching(/MIPSEG_PAYLOAD_TOO_LARGE/)]);
  });

  test('reports the files not stored and exits 2, though nothing failed', async () => {
    const run = await runCli(['send', dir, '--url', server.baseUrl, '--batch-size', '100', '--no-progress']);
    expect(run.stdout).toMatch(/^3 stored, 0 failed, 2 not stored \(cut short by the server\) of 5 files /);
    expect(run.stderr).toMatch(/server warning: .*MIPSEG_PAYLOAD_TOO_LARGE/);
    expect(run.code).toBe(2);
  });

  test('exits 0 when every file is stored in batches under the limit', async () => {
    const run = await runCli(['send', dir, '--url', server.baseUrl, '--batch-size', '3', '--no-progress']);
    expect(run.stdout).toMatch(/^5 stored, 0 failed of 5 files /);
    expect(run.code).toBe(0);
  });
});

describe('mipseg send: what it cannot do is said, and the exit code says it', () => {
  let dir: string;
  let server: TestArchiveServer;
  const FILES = 300;
  beforeAll(async () => {
    dir = folderOfSlices('mipseg-send-many-', FILES, '2.25.9200');
    server = await startTestArchive();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sends a folder of more files than it may open at once (a hard limit of 128 descriptors)', async () => {
    const run = await runToEnd('bash', ['-c', `ulimit -n 128 && exec "${process.execPath}" "${CLI}" send "${dir}" --url "${server.baseUrl}" --no-progress`]);
    expect(run.stderr).not.toMatch(/EMFILE/);
    expect(run.stdout).toMatch(new RegExp(`^${FILES} stored, 0 failed of ${FILES} files `));
    expect(run.code).toBe(0);
  });

  test('a server that cannot be reached: a summary, the reason, and exit code 2', async () => {
    const run = await runCli(['send', dir, '--url', `http://127.0.0.1:${await freePort()}/dicomweb`, '--no-progress']);
    expect(run.stdout).toMatch(new RegExp(`^0 stored, 0 failed, ${FILES} not stored .* of ${FILES} files `));
    expect(run.stderr).toMatch(/sending stopped: fetch failed \(ECONNREFUSED/);
    expect(run.code).toBe(2);
  });

  test('a token with a line break after it (a secret file) is the token without it', async () => {
    const run = await runCli(['send', dir, '--url', server.baseUrl, '--token', 'good-token-0123456789\n', '--no-progress']);
    expect(run.code).toBe(0);
  });

  test('a token of two lines (a token file read whole) is refused before anything is sent, without showing it', async () => {
    const run = await runCli(['send', dir, '--url', server.baseUrl, '--token', 'first-token-0123456789\nsecond-token-0123456789']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/one bearer token is needed/);
    expect(run.stderr).not.toMatch(/first-token|second-token/);
  });

  test('a URL that is no http(s) URL is refused before anything is read or sent, exit code 1', async () => {
    for (const url of ['127.0.0.1:8080/dicomweb', 'ftp://127.0.0.1/dicomweb', 'http://user:secret@127.0.0.1/dicomweb']) {
      const run = await runCli(['send', dir, '--url', url, '--no-progress']);
      expect([url, run.code, run.stdout]).toEqual([url, 1, '']);
      expect(run.stderr).toMatch(/^mipseg: --url: an? (http:\/\/ or https:\/\/ URL|URL without user:password) is needed/);
      expect(run.stderr).not.toContain('secret');
    }
  });
});

describe('mipseg send to a server that refuses its token', () => {
  let dir: string;
  let server: TestArchiveServer;
  beforeAll(async () => {
    dir = folderOfSlices('mipseg-send-token-', 6, '2.25.9300');
    server = await startTestArchive({ AUTH_TOKENS: 'right-token-0123456789' });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('stops after the first refused batch, says why, and exits 2', async () => {
    const run = await runCli(['send', dir, '--url', server.baseUrl, '--token', 'stale-token-0123456789', '--batch-size', '2', '--no-progress']);
    expect(run.stderr).toMatch(/sending stopped: the server refused the request \(HTTP 401: a token is missing or not accepted/);
    expect(run.stdout).toMatch(/^0 stored, 2 failed, 4 not stored .* of 6 files /);
    expect(run.code).toBe(2);
  });
});

/** A DICOMDIR as a CD holds one: PS3.10, its File Meta naming Media Storage Directory Storage, no StudyInstanceUID. */
function dicomdir(): Buffer {
  const file = new dcmjs.data.DicomDict({
    '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
    '00020002': { vr: 'UI', Value: ['1.2.840.10008.1.3.10'] },
    '00020003': { vr: 'UI', Value: ['2.25.9401'] },
    '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] },
  });
  file.dict = { '00041130': { vr: 'CS', Value: ['MIPSEG_CD'] }, '00041220': { vr: 'SQ', Value: [] } };
  return Buffer.from(file.write());
}

describe('mipseg send of a DICOM CD, and to servers that cannot take more', () => {
  let dir: string;
  let server: TestArchiveServer;
  let answering: Server;
  let answer: { status: number; headers: Record<string, string> } = { status: 507, headers: {} };
  let posts = 0;
  beforeAll(async () => {
    dir = folderOfSlices('mipseg-send-cd-', 4, '2.25.9400');
    writeFileSync(join(dir, 'DICOMDIR'), dicomdir());
    server = await startTestArchive();
    answering = createServer((req, res) => {
      posts += 1;
      req.resume();
      req.on('end', () => res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers }).end('{}'));
    });
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await server.stop();
    await new Promise((resolve) => answering.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  const answeringUrl = (): string => `http://127.0.0.1:${(answering.address() as AddressInfo).port}/dicomweb`;

  test('leaves the DICOMDIR out, says so, and exits 0 once every instance is stored', async () => {
    const run = await runCli(['send', dir, '--url', server.baseUrl, '--no-progress']);
    expect(run.stderr).toMatch(/skipping 1 DICOMDIR file\(s\)/);
    expect(run.stdout).toMatch(/^4 stored, 0 failed of 4 files /);
    expect(run.code).toBe(0);
  });

  test('stops after a batch answered 507 (no room), saying so, rather than upload the rest to be refused', async () => {
    answer = { status: 507, headers: {} };
    posts = 0;
    const run = await runCli(['send', dir, '--url', answeringUrl(), '--batch-size', '1', '--no-progress']);
    expect(run.stderr).toMatch(/sending stopped: the server has no room to store more \(HTTP 507\)/);
    expect([posts, run.code]).toEqual([1, 2]);
  });

  test('stops at a redirect, naming where to (without user:password), not with a bare "fetch failed"', async () => {
    for (const [location, suggested] of [['https://user:p@ss@pacs.example/dicomweb/studies', 'https://pacs.example/dicomweb'],
      ['/pacs/dicomweb/studies?from=http#top', `${answeringUrl().replace('/dicomweb', '')}/pacs/dicomweb`]] as const) {
      answer = { status: 301, headers: { Location: location } };
      posts = 0;
      const run = await runCli(['send', dir, '--url', answeringUrl(), '--batch-size', '2', '--no-progress']);
      expect(run.stderr).toContain(`sending stopped: the server redirected the request (HTTP 301): try --url ${suggested}\n`);
      expect(run.stderr).not.toMatch(/p@ss|ss@/);
      // The redirected batch counts as not stored too: every file is accounted for.
      expect(run.stdout).toMatch(/^0 stored, 0 failed, 4 not stored .* of 4 files /);
      expect([posts, run.code]).toEqual([1, 2]);
    }
  });
});
