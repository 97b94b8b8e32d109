import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// dicomweb-client talks XMLHttpRequest, which Node lacks; xhr2 provides it.
import XMLHttpRequest from 'xhr2';
import { api } from 'dicomweb-client';
import * as dicomParser from 'dicom-parser';
import { readMultipart } from '@mipseg/shared/dicomweb';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { watchMetadataReads } from '../support/metadata-reads';

(globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = XMLHttpRequest;

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const sha = (b: ArrayBuffer | Buffer) => createHash('sha256').update(Buffer.from(b as ArrayBuffer)).digest('hex');
type Json = Record<string, { vr: string; Value?: unknown[] }>;
const transferSyntaxOf = (b: ArrayBuffer) => dicomParser.parseDicom(new Uint8Array(b), { untilTag: 'x00020010' }).string('x00020010');

async function multipartBodies(res: Response): Promise<Buffer[]> {
  const boundary = /boundary=([^;]+)/.exec(res.headers.get('content-type') ?? '')?.[1] ?? '';
  const bodies: Buffer[] = [];
  await readMultipart([Buffer.from(await res.arrayBuffer())], boundary, { maxBodyBytes: Infinity, maxParts: Infinity }, () => {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => Promise.resolve(void chunks.push(Buffer.from(chunk))),
      end: () => Promise.resolve(void bodies.push(Buffer.concat(chunks))),
      abort: () => Promise.resolve(),
    };
  });
  return bodies;
}

// The library's declarations type its promise-returning methods as plain values; this is what they return.
interface Client {
  storeInstances(o: { datasets: ArrayBuffer[] }): Promise<unknown>;
  searchForStudies(o?: { queryParams?: Record<string, string> }): Promise<Json[]>;
  searchForSeries(o?: { queryParams?: Record<string, string> }): Promise<Json[]>;
  searchForInstances(o?: { queryParams?: Record<string, string> }): Promise<Json[]>;
  retrieveSeries(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<ArrayBuffer[]>;
  retrieveSeriesMetadata(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<Record<string, { vr: string; BulkDataURI?: string; Value?: unknown[] }>[]>;
}

describeWithSharedData(GE)('DICOMweb with the whole-body GE PET series', () => {
  let server: TestArchiveServer;
  let client: Client;
  const dir = sharedData(GE).path;
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();
  const originals = files.map((f) => readFileSync(join(dir, f)));

  beforeAll(async () => {
    server = await startTestArchive();
    client = new api.DICOMwebClient({ url: server.baseUrl, singlepart: false }) as unknown as Client;
  });
  afterAll(() => server.stop());

  test('stores all 267 instances through STOW-RS with dicomweb-client', async () => {
    expect(files).toHaveLength(267);
    const datasets = originals.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    await client.storeInstances({ datasets });
    expect(server.archive.index.countInstances()).toBe(267);
  });

  test('QIDO finds one study with its required attributes and counts', async () => {
    const studies = await client.searchForStudies();
    expect(studies).toHaveLength(1);
    const s = studies[0] as Json;
    expect(s['00100020']?.Value).toEqual(['STS_001']);
    expect(s['00080061']?.Value).toEqual(['PT']);
    expect(s['00201206']?.Value).toEqual([1]);
    expect(s['00201208']?.Value).toEqual([267]);
    expect(s['00080056']?.Value).toEqual(['ONLINE']);
    for (const tag of ['00080020', '00080030', '00080050', '00080090', '00100010', '00100030', '00100040', '0020000D',
      '00200010', '00081190', '00080005', '00080201']) expect(s).toHaveProperty(tag);
  });

  test('QIDO finds one series of 267 instances and every instance with its attributes', async () => {
    const series = await client.searchForSeries();
    expect(series).toHaveLength(1);
    expect(series[0]?.['00080060']?.Value).toEqual(['PT']);
    expect(series[0]?.['00201209']?.Value).toEqual([267]);
    const instances = await client.searchForInstances({ queryParams: { limit: '1000' } });
    expect(instances).toHaveLength(267);
    expect(instances[0]?.['00280010']?.Value).toEqual([128]);
    expect(instances[0]?.['00080016']?.Value).toEqual(['1.2.840.10008.5.1.4.1.1.128']);
  });

  test('QIDO matches wildcards, date ranges, UID lists and includefield', async () => {
    const byName = await client.searchForStudies({ queryParams: { PatientID: 'STS*' } });
    expect(byName).toHaveLength(1);
    const none = await client.searchForStudies({ queryParams: { PatientID: 'XYZ*' } });
    expect(none).toHaveLength(0);
    const date = String((byName[0]?.['00080020']?.Value ?? [''])[0]);
    expect(await client.searchForStudies({ queryParams: { StudyDate: `${date.slice(0, 4)}0101-` } })).toHaveLength(1);
    expect(await client.searchForStudies({ queryParams: { StudyDate: '-19000101' } })).toHaveLength(0);
    const study = String((byName[0]?.['0020000D']?.Value ?? [''])[0]);
    expect(await client.searchForStudies({ queryParams: { StudyInstanceUID: `1.2.3,${study}` } })).toHaveLength(1);
    const withWeight = await client.searchForStudies({ queryParams: { includefield: '00101030' } });
    expect(withWeight[0]?.['00101030']?.Value).toEqual([71]);
    const paged = await client.searchForInstances({ queryParams: { limit: '10', offset: '260' } });
    expect(paged).toHaveLength(7);
  });

  test('WADO-RS returns every instance: byte-identical with transfer-syntax=*, else in Explicit VR', async () => {
    const [series] = await client.searchForSeries();
    const studyInstanceUID = String(series?.['0020000D']?.Value?.[0]);
    const seriesInstanceUID = String(series?.['0020000E']?.Value?.[0]);
    const asStored = await fetch(`${server.baseUrl}/studies/${studyInstanceUID}/series/${seriesInstanceUID}`, {
      headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    expect(asStored.status).toBe(200);
    const parts = await multipartBodies(asStored);
    expect(parts).toHaveLength(267);
    expect(new Set(parts.map(sha))).toEqual(new Set(originals.map(sha)));
    // dicomweb-client names no transfer syntax, so the series (Implicit VR) comes in the PS3.18 default: see
    // wado-transfer-syntax.test.ts. (Its mediaTypes option cannot ask for application/dicom with transfer-syntax=*.)
    const retrieved = await client.retrieveSeries({ studyInstanceUID, seriesInstanceUID });
    expect(retrieved).toHaveLength(267);
    expect(new Set(retrieved.map(transferSyntaxOf))).toEqual(new Set(['1.2.840.10008.1.2.1']));
  });

  test('WADO-RS keeps answering after clients that go away in the middle of a series', async () => {
    const [series] = await client.searchForSeries();
    const url = `${server.baseUrl}/studies/${String(series?.['0020000D']?.Value?.[0])}/series/${String(series?.['0020000E']?.Value?.[0])}`;
    const accept = { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' };
    for (let k = 0; k < 5; k++) {
      // Read the first chunk only, then drop the connection while instances are still being read ahead.
      const aborter = new AbortController();
      const res = await fetch(url, { headers: accept, signal: aborter.signal });
      await res.body?.getReader().read();
      aborter.abort();
    }
    const whole = await fetch(url, { headers: accept });
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBeGreaterThan(originals.reduce((n, b) => n + b.length, 0));
  });

  test('WADO-RS metadata gives DICOM JSON with a BulkDataURI for pixel data', async () => {
    const [series] = await client.searchForSeries();
    const metadata = await client.retrieveSeriesMetadata({
      studyInstanceUID: String(series?.['0020000D']?.Value?.[0]),
      seriesInstanceUID: String(series?.['0020000E']?.Value?.[0]),
    });
    expect(metadata).toHaveLength(267);
    const first = metadata[0] ?? {};
    expect(first['7FE00010']?.BulkDataURI).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dicomweb\/studies\/.+\/bulkdata\/7FE00010$/);
    expect(first['00100010']?.Value).toEqual([{ Alphabetic: 'STS_001' }]);
    const bulk = await fetch(String(first['7FE00010']?.BulkDataURI));
    expect(bulk.status).toBe(200);
    expect(Buffer.from(await bulk.arrayBuffer()).length).toBeGreaterThan(128 * 128 * 2);
  });

  test('WADO-RS metadata of a whole series reads at most 8 instances at a time', async () => {
    const [series] = await client.searchForSeries();
    let items = 0;
    const reads = await watchMetadataReads(server.archive, async () => {
      items = (await client.retrieveSeriesMetadata({
        studyInstanceUID: String(series?.['0020000D']?.Value?.[0]),
        seriesInstanceUID: String(series?.['0020000E']?.Value?.[0]),
      })).length;
    });
    expect(items).toBe(267);
    expect(reads.calls).toBe(267);
    expect(reads.mostAtOnce).toBeGreaterThan(1);
    expect(reads.mostAtOnce).toBeLessThanOrEqual(8);
  });

  test('renders a PET slice as PNG, or as JPEG when asked, and serves frames', async () => {
    const [inst] = await client.searchForInstances({ queryParams: { limit: '1' } });
    const url = String(inst?.['00081190']?.Value?.[0]);
    const png = await fetch(`${url}/rendered`, { headers: { Accept: 'image/png' } });
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const pngBytes = Buffer.from(await png.arrayBuffer());
    expect(pngBytes.subarray(1, 4).toString()).toBe('PNG');
    // PS3.18 lists JPEG for rendered single frames: given to a client that asks for it, and the same picture.
    const jpg = await fetch(`${url}/rendered`, { headers: { Accept: 'image/jpeg' } });
    expect([jpg.status, jpg.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    const decoded = jpeg.decode(Buffer.from(await jpg.arrayBuffer()), { useTArray: true });
    const lossless = PNG.sync.read(pngBytes);
    expect([decoded.width, decoded.height]).toEqual([lossless.width, lossless.height]);
    let worst = 0;
    for (let i = 0; i < decoded.data.length; i += 4) worst = Math.max(worst, Math.abs((decoded.data[i] as number) - (lossless.data[i] as number)));
    expect(worst).toBeLessThan(40);
    expect((await fetch(`${url}/rendered`, { headers: { Accept: 'image/png;q=0.5, image/jpeg' } })).headers.get('content-type')).toBe('image/jpeg');
    expect((await fetch(`${url}/rendered`, { headers: { Accept: 'image/gif' } })).status).toBe(406);
    const frame = await fetch(`${url}/frames/1`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(frame.status).toBe(200);
    const missing = await fetch(`${url}/frames/2`);
    expect(missing.status).toBe(404);
  });
});
