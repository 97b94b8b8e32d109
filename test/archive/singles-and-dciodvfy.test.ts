import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dciodvfy } from '../support/dicom-tools';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow } from '../support/stow';

const SINGLES = 'data/pet-dicom/singles';

async function retrieveInstance(url: string): Promise<Buffer> {
  const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  const boundary = /boundary=([^;\s]+)/.exec(res.headers.get('content-type') ?? '')?.[1] ?? '';
  const start = body.indexOf('\r\n\r\n') + 4;
  const end = body.lastIndexOf(`\r\n--${boundary}--`);
  return body.subarray(start, end);
}

describeWithSharedData(SINGLES)('single PET files from several vendors', () => {
  let server: TestArchiveServer;
  let work: string;
  const dir = sharedData(SINGLES).path;
  const names = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();

  beforeAll(async () => {
    server = await startTestArchive();
    work = mkdtempSync(join(tmpdir(), 'mipseg-dciodvfy-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test.each(names)('%s is stored and retrievable byte-identical, or refused with a clear reason', async (name) => {
    const original = readFileSync(join(dir, name));
    const reply = await postStow(`${server.baseUrl}/studies`, [original]);
    if (reply.status === 200) {
      const item = (reply.body?.['00081199']?.Value ?? [])[0];
      const url = String(item?.['00081190']?.Value?.[0]);
      const retrieved = await retrieveInstance(url);
      expect(retrieved.equals(original)).toBe(true);
      // dciodvfy on the retrieved copy reports nothing the original did not already have.
      const copy = join(work, name);
      writeFileSync(copy, retrieved);
      expect(dciodvfy(copy).errors).toEqual(dciodvfy(join(dir, name)).errors);
    } else {
      expect(reply.status).toBe(400);
      expect(failureReasons(reply)).toEqual([0xc000]);
      expect(reply.warning).toMatch(/File Meta Information/);
    }
    // The expectations per file, from the data README: only the file without File Meta is refused.
    expect(reply.status).toBe(name === 'orthanc-tests-PrivateMDNTags.dcm' ? 400 : 200);
  });
});
