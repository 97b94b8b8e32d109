import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readSopInstanceUid } from '@mipseg/shared/dicom';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow, type StowReply } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';
type Json = Record<string, { Value?: unknown[] }>;

function geSlices(count: number): Buffer[] {
  const dir = sharedData(GE).path;
  return readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, count).map((f) => readFileSync(join(dir, f)));
}

const sopUidOf = (bytes: Buffer): string => String(readSopInstanceUid(bytes));

/** SOP Instance UIDs of the response's ReferencedSOPSequence, in order. */
function referencedUids(reply: StowReply): string[] {
  return (reply.body?.['00081199']?.Value ?? []).map((item) => String(item['00081155']?.Value?.[0]));
}

/** SOP Instance UIDs the archive answers QIDO with. */
async function qidoInstanceUids(server: TestArchiveServer): Promise<string[]> {
  const res = await fetch(`${server.baseUrl}/instances?limit=1000`);
  expect(res.status).toBe(200);
  return ((await res.json()) as Json[]).map((i) => String(i['00080018']?.Value?.[0])).sort();
}

/**
 * Posts the parts as a chunked body (no Content-Length, as a streaming client sends it), one part at a time with
 * a pause between, so that the server has read every earlier part when a later one crosses a limit.
 */
async function postStowChunked(url: string, parts: readonly Buffer[]): Promise<StowReply> {
  const boundary = `b-${randomUUID()}`;
  async function* body(): AsyncGenerator<Buffer> {
    for (const p of parts) {
      yield Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n')]);
      await new Promise((r) => setTimeout(r, 50));
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  // A streamed request body needs duplex 'half', which Node's fetch takes but its RequestInit type lacks.
  const init = { method: 'POST', body: Readable.toWeb(Readable.from(body())), duplex: 'half',
    headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` } };
  const res = await fetch(url, init as RequestInit);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as StowReply['body']) : null, warning: res.headers.get('warning') };
}

describeWithSharedData(GE)('STOW-RS cut at MAX_PARTS_PER_REQUEST', () => {
  let server: TestArchiveServer;
  beforeEach(async () => {
    server = await startTestArchive({ MAX_PARTS_PER_REQUEST: '3' });
  });
  afterEach(() => server.stop());

  test('answers 202 listing the parts stored before the limit, with the reason in a Warning; QIDO finds exactly them', async () => {
    const slices = geSlices(5);
    const reply = await postStow(`${server.baseUrl}/studies`, slices);
    expect(reply.status).toBe(202);
    const stored = slices.slice(0, 3).map(sopUidOf);
    expect(referencedUids(reply)).toEqual(stored);
    expect(reply.body?.['00081198']).toBeUndefined();
    expect(reply.warning).toMatch(/MIPSEG_PAYLOAD_TOO_LARGE.*more than 3 parts.*not read/);
    expect(await qidoInstanceUids(server)).toEqual([...stored].sort());
    expect(readdirSync(join(server.dataDir, 'tmp'))).toEqual([]);
  });

  test('lists the failed parts before the limit in FailedSOPSequence beside the stored ones', async () => {
    const [good, , third] = geSlices(3) as [Buffer, Buffer, Buffer];
    const reply = await postStow(`${server.baseUrl}/studies`, [good, Buffer.from('not DICOM'.repeat(50)), third, good]);
    expect(reply.status).toBe(202);
    expect(referencedUids(reply)).toEqual([sopUidOf(good), sopUidOf(third)]);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.warning).toMatch(/MIPSEG_PAYLOAD_TOO_LARGE/);
    expect(await qidoInstanceUids(server)).toEqual([sopUidOf(good), sopUidOf(third)].sort());
  });

  test('still answers 413 with the error code when nothing was stored before the limit', async () => {
    const garbage = Buffer.from('not DICOM'.repeat(50));
    const reply = await postStow(`${server.baseUrl}/studies`, [garbage, garbage, garbage, ...geSlices(1)]);
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ code: 'MIPSEG_PAYLOAD_TOO_LARGE' });
    expect(await qidoInstanceUids(server)).toEqual([]);
  });
});

describeWithSharedData(GE)('STOW-RS cut at MAX_REQUEST_BYTES of a chunked body', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    // Room for two GE slices (36 KB each) and their part headers, not for a third.
    server = await startTestArchive({ MAX_REQUEST_BYTES: String(100 * 1024), MAX_INSTANCE_BYTES: String(100 * 1024) });
  });
  afterAll(() => server.stop());

  test('answers 202 listing the parts stored before the limit; the part cut off leaves nothing behind', async () => {
    const slices = geSlices(5);
    const reply = await postStowChunked(`${server.baseUrl}/studies`, slices);
    expect(reply.status).toBe(202);
    const stored = slices.slice(0, 2).map(sopUidOf);
    expect(referencedUids(reply)).toEqual(stored);
    expect(reply.warning).toMatch(/MIPSEG_PAYLOAD_TOO_LARGE.*not read/);
    expect(await qidoInstanceUids(server)).toEqual([...stored].sort());
    expect(readdirSync(join(server.dataDir, 'tmp'))).toEqual([]);
  });
});

describeWithSharedData(GE)('STOW-RS of an instance over MAX_INSTANCE_BYTES', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive({ MAX_INSTANCE_BYTES: String(8 * 1024) });
  });
  afterAll(() => server.stop());

  test('alone, it is refused with 413 (over the configured size, not a malformed request) and 0xC412, as by C-STORE', async () => {
    const reply = await postStow(`${server.baseUrl}/studies`, geSlices(1));
    expect(reply.status).toBe(413);
    expect(failureReasons(reply)).toEqual([0xc412]);
    expect(reply.warning).toMatch(/MAX_INSTANCE_BYTES/);
    // Named by the UIDs its File Meta gave (Type 1 in FailedSOPSequence), though it was never parsed.
    const [failedItem] = (reply.body?.['00081198']?.Value ?? []) as Array<Record<string, { Value?: unknown[] }>>;
    expect([failedItem?.['00081150']?.Value?.[0], failedItem?.['00081155']?.Value?.[0]]).toEqual([PET_IMAGE_STORAGE, sopUidOf(geSlices(1)[0] as Buffer)]);
  });

  test('beside an instance that fails for another reason, the answer stays 400', async () => {
    const reply = await postStow(`${server.baseUrl}/studies`, [...geSlices(1), Buffer.from('not DICOM'.repeat(50))]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc412, 0xc000]);
  });
});
