import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendFiles } from './send';
import { planBatches } from './stow-batches';

/** What one STOW request to the stand-in server held. */
interface Received {
  readonly bytes: number;
  readonly parts: number;
}

/**
 * A STOW-RS stand-in that reads each request whole, counts its parts, and answers 200 listing as many instances in
 * ReferencedSOPSequence as `listed(parts, request number)` says (every part, unless a test says otherwise).
 */
class StowStandIn {
  readonly received: Received[] = [];
  listed: (parts: number, request: number) => number = (parts) => parts;
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const boundary = /boundary=(\S+)/.exec(req.headers['content-type'] ?? '')?.[1] ?? '';
      const parts = body.toString('latin1').split(`--${boundary}\r\n`).length - 1;
      this.received.push({ bytes: body.length, parts });
      const listed = this.listed(parts, this.received.length);
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' })
        .end(JSON.stringify({ '00081199': { vr: 'SQ', Value: Array.from({ length: listed }, () => ({})) } }));
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
