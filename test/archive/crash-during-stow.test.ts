import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInstanceHeader } from '@mipseg/shared/dicom';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { killAndWait, startMipsegProcess } from '../support/mipseg-process';
import { postStow } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
type Json = Record<string, { Value?: unknown[] }>;

async function instancesOf(port: number): Promise<Json[]> {
  const res = await fetch(`http://127.0.0.1:${port}/dicomweb/instances?limit=1000`);
  return (await res.json()) as Json[];
}

describeWithSharedData(GE)('a crash during STOW', () => {
  const dir = sharedData(GE).path;
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, 8).map((f) => readFileSync(join(dir, f)));
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-crash-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('killing the process mid-upload leaves no partial instance in the store or the index', async () => {
    const first = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    try {
      expect((await postStow(`http://127.0.0.1:${first.httpPort}/dicomweb/studies`, files.slice(0, 3))).status).toBe(200);
      // A second upload: three complete parts, then half of a fourth, and the server dies.
      const boundary = `b-${randomUUID()}`;
      const req = request({ host: '127.0.0.1', port: first.httpPort, method: 'POST', path: '/dicomweb/studies',
        headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` } });
      req.on('error', () => undefined); // the connection dies with the server: expected
      for (const part of files.slice(3, 6)) req.write(Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), part, Buffer.from('\r\n')]));
      const partial = files[6] as Buffer;
      req.write(Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), partial.subarray(0, partial.length / 2)]));
      // Wait until the half part is on disk as a temporary file, so the kill lands mid-instance.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && readdirSync(join(dataDir, 'tmp')).length === 0) await new Promise((r) => setTimeout(r, 20));
      expect(readdirSync(join(dataDir, 'tmp')).length).toBeGreaterThan(0);
      await killAndWait(first.child, 'SIGKILL');
    } finally {
      await killAndWait(first.child, 'SIGKILL');
    }

    const second = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    try {
      expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
      const indexed = await instancesOf(second.httpPort);
      expect(indexed.length).toBeGreaterThanOrEqual(3);
      expect(indexed.length).toBeLessThanOrEqual(6);
      // Every indexed instance is whole: retrievable and byte-identical to one of the originals.
      const originals = new Set(files.map((f) => createHash('sha256').update(f).digest('hex')));
      for (const inst of indexed) {
        const url = String(inst['00081190']?.Value?.[0]);
        const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
        const body = Buffer.from(await res.arrayBuffer());
        const start = body.indexOf('\r\n\r\n') + 4;
        const end = body.lastIndexOf('\r\n--');
        expect(originals.has(createHash('sha256').update(body.subarray(start, end)).digest('hex'))).toBe(true);
      }
      // The half-sent instance exists nowhere: not in the index, not as a file.
      const halfSop = parseInstanceHeader(files[6] as Buffer).sopInstanceUid;
      expect(JSON.stringify(indexed)).not.toContain(halfSop);
      const storedFiles = readdirSync(join(dataDir, 'instances'), { recursive: true }).map(String);
      expect(storedFiles.some((f) => f.includes(halfSop))).toBe(false);
    } finally {
      await killAndWait(second.child, 'SIGTERM');
    }
  });
});
