import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../../../test/support/mipseg-process';
import { freePort } from '../../../test/support/redis';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { fileMetaUids } from '@mipseg/shared/dicom';
import { sendFiles } from './send';
import { planBatches } from './stow-batches';

/** What one STOW request to the stand-in server held. */
interface Received {
  readonly bytes: number;
  readonly parts: number;
}

/** The SOP Instance UID each part's File Meta Information names (undefined where a part is not PS3.10). */
function partInstanceUids(body: Buffer, boundary: string): Array<string | undefined> {
  return body.toString('latin1').split(`--${boundary}\r\n`).slice(1).map((part) => {
    const content = part.slice(part.indexOf('\r\n\r\n') + 4);
    return fileMetaUids(Buffer.from(content, 'latin1')).sopInstanceUid;
  });
}

/**
 * A STOW-RS stand-in that reads each request whole and answers 200 listing in ReferencedSOPSequence the instances
 * `listed(part UIDs, request number)` says (every part's, unless a test says otherwise); an undefined UID is listed as an
 * item without ReferencedSOPInstanceUID.
 */
class StowStandIn {
  readonly received: Received[] = [];
  listed: (uids: Array<string | undefined>, request: number) => Array<string | undefined> = (uids) => uids;
  /** The HTTP status of every answer. */
  status = 200;
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const boundary = /boundary=(\S+)/.exec(req.headers['content-type'] ?? '')?.[1] ?? '';
      const uids = partInstanceUids(body, boundary);
      this.received.push({ bytes: body.length, parts: uids.length });
      const items = this.listed(uids, this.received.length).map((uid) => (uid === undefined ? {} : { '00081155': { vr: 'UI', Value: [uid] } }));
      res.writeHead(this.status, { 'Content-Type': 'application/dicom+json' })
        .end(JSON.stringify({ '00081199': { vr: 'SQ', Value: items } }));
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/dicomweb`;
  }
}

describe('mipseg send: how files are split into STOW requests', () => {
  let dir: string;
  let server: StowStandIn;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-send-requests-'));
    server = new StowStandIn();
    await server.start();
  });
  afterEach(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  /** Files of the given sizes (their content does not matter to the stand-in), in sorted order. */
  const filesOf = (sizes: readonly number[]): string[] => sizes.map((size, i) => {
    const path = join(dir, `${String(i).padStart(3, '0')}.dcm`);
    writeFileSync(path, Buffer.alloc(size, i));
    return path;
  });

  test('closes a request before its files would pass --max-request-bytes, and sends a file larger than it alone', async () => {
    const files = filesOf([40_000, 40_000, 40_000, 150_000, 10_000, 10_000]);
    const summary = await sendFiles(files, { url: server.url, batchSize: 100, maxRequestBytes: 100_000, progress: false });
    expect(server.received.map((r) => r.parts)).toEqual([2, 1, 1, 2]);
    // Each request holds no more than the cap, but for the one file over it.
    expect(server.received.map((r) => r.bytes <= 100_000)).toEqual([true, true, false, true]);
    expect(summary).toMatchObject({ files: 6, stored: 6, failed: 0, notStored: 0 });
  });

  test('still closes a request at --batch-size files when they are small', () => {
    expect(planBatches([1, 1, 1, 1, 1], 2, 1_000_000)).toEqual([{ start: 0, end: 2 }, { start: 2, end: 4 }, { start: 4, end: 5 }]);
  });
});

/** Runs the built CLI to its end (the stand-in server answers from this process, so not spawnSync). */
function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('mipseg send to a server whose answers list more or fewer instances than were sent', () => {
  let dir: string;
  let server: StowStandIn;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-send-listed-'));
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(dir, `${i}.dcm`), syntheticPetInstance({ sopInstanceUid: `2.25.9500${i}`, imagePositionPatient: [0, 0, 4 * i] }));
    }
    server = new StowStandIn();
    await server.start();
  });
  beforeEach(() => {
    server.received.length = 0;
    // The first request's answer lists one instance too many, the second's one too few: 4 listed for 4 sent.
    server.listed = (uids, request) => (request === 1 ? [...uids, '2.25.999'] : uids.slice(1));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('counts no more stored in a request than it sent, so the file one answer left out is not stored', async () => {
    const files = [0, 1, 2, 3].map((i) => join(dir, `${i}.dcm`));
    const summary = await sendFiles(files, { url: server.url, batchSize: 2, progress: false });
    expect(summary).toMatchObject({ files: 4, stored: 3, failed: 0, notStored: 1 });
  });

  test('counts an instance listed twice once, so the one the answer left out is not stored', async () => {
    server.listed = (uids) => [uids[0], uids[0]];
    const files = [0, 1].map((i) => join(dir, `${i}.dcm`));
    const summary = await sendFiles(files, { url: server.url, batchSize: 2, progress: false });
    expect(summary).toMatchObject({ files: 2, stored: 1, failed: 0, notStored: 1 });
  });

  test('counts no instance stored that its request did not hold', async () => {
    server.listed = (uids) => [uids[0], '2.25.999'];
    const files = [0, 1].map((i) => join(dir, `${i}.dcm`));
    const summary = await sendFiles(files, { url: server.url, batchSize: 2, progress: false });
    expect(summary).toMatchObject({ files: 2, stored: 1, failed: 0, notStored: 1 });
  });

  test('exits 2, as a file was not stored', async () => {
    const run = await runCli(['send', dir, '--url', server.url, '--batch-size', '2', '--no-progress']);
    expect(run.stdout).toMatch(/^3 stored, 0 failed, 1 not stored .*of 4 files /);
    expect(run.code).toBe(2);
  });
});

describe('mipseg send: the summary says why files were not stored', () => {
  let dir: string;
  let server: StowStandIn;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-send-why-'));
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(dir, `${i}.dcm`), syntheticPetInstance({ sopInstanceUid: `2.25.9600${i}`, imagePositionPatient: [0, 0, 4 * i] }));
    }
    server = new StowStandIn();
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a server that cannot be reached: not stored as sending stopped, not "cut short by the server"', async () => {
    const run = await runCli(['send', dir, '--url', `http://127.0.0.1:${await freePort()}/dicomweb`, '--no-progress']);
    expect(run.stdout).toMatch(/^0 stored, 0 failed, 4 not stored \(sending stopped\) of 4 files /);
    expect(run.code).toBe(2);
  });

  test('a refused token: the rest not stored as sending stopped', async () => {
    server.status = 401;
    server.listed = () => [];
    const run = await runCli(['send', dir, '--url', server.url, '--batch-size', '1', '--no-progress']);
    expect(run.stdout).toMatch(/^0 stored, 1 failed, 3 not stored \(sending stopped\) of 4 files /);
    expect(run.code).toBe(2);
  });

  test('a request cut short, then a stop: each count named by its cause', async () => {
    // The first answer lists one of its two; the second is a redirect, which stops the send.
    server.received.length = 0;
    server.status = 200;
    server.listed = (uids, request) => {
      if (request === 2) server.status = 301;
      return request === 1 ? uids.slice(1) : [];
    };
    const run = await runCli(['send', dir, '--url', server.url, '--batch-size', '2', '--no-progress']);
    expect(run.stdout).toMatch(/^1 stored, 0 failed, 3 not stored \(1 cut short by the server, 2 as sending stopped\) of 4 files /);
    expect(run.code).toBe(2);
  });
});
