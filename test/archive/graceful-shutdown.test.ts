import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startMipsegProcess } from '../support/mipseg-process';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

describeWithSharedData(GE)('graceful shutdown', () => {
  const dir = sharedData(GE).path;
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, 4).map((f) => readFileSync(join(dir, f)));
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-shutdown-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test('SIGTERM lets an upload in flight finish, answers it, then exits 0', async () => {
    const mipseg = await startMipsegProcess({ DATA_DIR: dataDir, DIMSE_ENABLED: 'false' });
    const boundary = `b-${randomUUID()}`;
    const part = (b: Buffer) => Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), b, Buffer.from('\r\n')]);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: mipseg.httpPort, method: 'POST', path: '/dicomweb/studies',
        headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(part(files[0] as Buffer));
      // The signal arrives while the request is still being sent; the rest follows afterwards.
      setTimeout(() => {
        mipseg.child.kill('SIGTERM');
        setTimeout(() => {
          for (const f of files.slice(1)) req.write(part(f));
          req.end(`--${boundary}--\r\n`);
        }, 300);
      }, 300);
    });
    const exited = new Promise<number | null>((resolve) => mipseg.child.once('exit', (code) => resolve(code)));
    const reply = await response;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)['00081199'].Value).toHaveLength(4);
    expect(await exited).toBe(0);
    expect(mipseg.output()).toMatch(/shutting down/);
  });
});
