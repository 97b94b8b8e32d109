import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMultipart } from '@mipseg/shared/dicomweb';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { readNativeDicomXml } from '../support/native-dicom-xml';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { watchMetadataReads } from '../support/metadata-reads';
import { postStow } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
type Json = Record<string, { vr: string; Value?: unknown[] }>;

const YAMADA = 'Yamada^Tarou=山田^太郎=やまだ^たろう';

/** A copy of a GE slice changed by dcmodify, in a study, series and instance of its own. */
function modifiedSlice(source: string, dir: string, name: string, changes: Record<string, string>): Buffer {
  const path = join(dir, `${name}.dcm`);
  copyFileSync(source, path);
  const edits = Object.entries(changes).flatMap(([tag, value]) => ['-m', `${tag}=${value}`]);
  const run = spawnSync('dcmodify', ['-nb', '-gst', '-gse', '-gin', ...edits, path], { encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw new Error(`dcmodify cannot run (apt-get install dcmtk): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`dcmodify exited ${run.status}: ${run.stderr}`);
  return readFileSync(path);
}

async function multipartBodies(res: Response): Promise<string[]> {
  const boundary = /boundary=([^;]+)/.exec(res.headers.get('content-type') ?? '')?.[1] ?? '';
  const bodies: string[] = [];
  await readMultipart([Buffer.from(await res.arrayBuffer())], boundary, { maxBodyBytes: Infinity, maxParts: Infinity }, () => {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => Promise.resolve(void chunks.push(Buffer.from(chunk))),
      end: () => Promise.resolve(void bodies.push(Buffer.concat(chunks).toString('utf8'))),
      abort: () => Promise.resolve(),
    };
  });
  return bodies;
}

describeWithSharedData(GE)('QIDO-RS over stored GE slices with Japanese, multi-valued and CT variants', () => {
  let server: TestArchiveServer;
  let work: string;
  const dir = sharedData(GE).path;
  const slices = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, 20).map((f) => join(dir, f));
  const first = slices[0] as string;

  const search = (path: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    fetch(`${server.baseUrl}${path}?${new URLSearchParams(params).toString()}`, { headers });
  const studies = async (params: Record<string, string>): Promise<Json[]> => {
    const res = await search('/studies', params);
    expect(res.status).toBe(200);
    return (await res.json()) as Json[];
  };
  const patientIds = async (params: Record<string, string>) =>
    (await studies(params)).map((s) => String(s['00100020']?.Value?.[0])).sort();

  beforeAll(async () => {
    server = await startTestArchive();
    work = mkdtempSync(join(tmpdir(), 'mipseg-qido-'));
    const variants = [
      modifiedSlice(first, work, 'yamada', { '(0008,0005)': 'ISO_IR 192', '(0010,0010)': YAMADA, '(0010,0020)': 'PN001' }),
      modifiedSlice(first, work, 'two-names', { '(0010,0010)': 'Alpha^One\\Beta^Two', '(0010,0020)': 'PN002' }),
      modifiedSlice(first, work, 'ct', { '(0008,0016)': '1.2.840.10008.5.1.4.1.1.2', '(0008,0060)': 'CT', '(0010,0020)': 'PN003' }),
      // A Japanese scanner's encoding (PS3.5 Annex H): ISO 2022 escape sequences switch to JIS X 0208 mid-name.
      modifiedSlice(first, work, 'tanaka', {
        '(0008,0005)': '\\ISO 2022 IR 87', '(0010,0010)': 'Tanaka^Hanako=\x1b$BEDCf\x1b(B^\x1b$B2V;R\x1b(B', '(0010,0020)': 'JIS001',
      }),
    ];
    const originals = slices.map((p) => readFileSync(p));
    const stored = await postStow(`${server.baseUrl}/studies`, [...variants, ...originals]);
    expect([stored.status, stored.warning]).toEqual([200, null]);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('answers DICOM JSON for no Accept, */*, application/* and application/json, and 406 for what it cannot produce', async () => {
    for (const accept of [undefined, '*/*', 'application/*', 'application/json', 'application/dicom+json', 'text/html;q=0.5, application/dicom+json']) {
      const res = await search('/studies', { PatientID: 'PN001' }, accept ? { Accept: accept } : {});
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/dicom\+json\b/);
      expect(await res.json()).toHaveLength(1);
    }
    for (const accept of ['text/html', 'application/dicom+xml', 'multipart/related; type="application/dicom"', 'image/png']) {
      const res = await search('/studies', { PatientID: 'PN001' }, { Accept: accept });
      expect(res.status).toBe(406);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_NOT_ACCEPTABLE' });
    }
  });

  test('answers multipart/related XML with one Native DICOM Model document per result, the same as the JSON', async () => {
    const params = { PatientID: 'PN00*', includefield: 'PatientWeight' };
    const json = await studies(params);
    const res = await search('/studies', params, { Accept: 'multipart/related; type="application/dicom+xml"' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom\+xml"; boundary=/);
    const documents = await multipartBodies(res);
    expect(documents).toHaveLength(3);
    expect(readNativeDicomXml(documents)).toEqual(json);
    const none = await search('/studies', { PatientID: 'NOBODY' }, { Accept: 'multipart/related; type="application/dicom+xml"' });
    expect(none.status).toBe(200);
    expect(await multipartBodies(none)).toEqual([]);
  });

  test('returns an includefield attribute the instances do not have, empty, with its dictionary VR (as C-FIND returns a key)', async () => {
    const [study] = await studies({ PatientID: 'PN001', includefield: 'AdmittingDiagnosesDescription,PixelPaddingValue,00291010' });
    expect([study?.['00081080'], study?.['00280120'], study?.['00291010']]).toEqual([{ vr: 'LO' }, { vr: 'US' }, { vr: 'UN' }]);
  });

  test('answers WADO-RS metadata in XML too (PS3.18 10.4.3): one Native DICOM Model document per instance, the same as the JSON', async () => {
    const study = String((await studies({ PatientID: 'PN001' }))[0]?.['0020000D']?.Value?.[0]);
    const json = (await (await fetch(`${server.baseUrl}/studies/${study}/metadata`)).json()) as Json[];
    const res = await fetch(`${server.baseUrl}/studies/${study}/metadata`, { headers: { Accept: 'multipart/related; type="application/dicom+xml"' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom\+xml"; boundary=/);
    expect(readNativeDicomXml(await multipartBodies(res))).toEqual(json);
    const refused = await fetch(`${server.baseUrl}/studies/${study}/metadata`, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    expect(refused.status).toBe(406);
  });

  test('returns person names in their component groups and each value of a multi-valued name, as WADO metadata does', async () => {
    const [yamada] = await studies({ PatientID: 'PN001' });
    expect(yamada?.['00100010']?.Value).toEqual([{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
    const [twoNames] = await studies({ PatientID: 'PN002' });
    expect(twoNames?.['00100010']?.Value).toEqual([{ Alphabetic: 'Alpha^One' }, { Alphabetic: 'Beta^Two' }]);
    const study = String(yamada?.['0020000D']?.Value?.[0]);
    const metadata = (await (await fetch(`${server.baseUrl}/studies/${study}/metadata`)).json()) as Json[];
    expect(metadata[0]?.['00100010']?.Value).toEqual(yamada?.['00100010']?.Value);
  });

  test('decodes a name in ISO 2022 code extensions for QIDO and WADO metadata alike, and matches it', async () => {
    const [tanaka] = await studies({ PatientID: 'JIS001' });
    expect(tanaka?.['00100010']?.Value).toEqual([{ Alphabetic: 'Tanaka^Hanako', Ideographic: '田中^花子' }]);
    const study = String(tanaka?.['0020000D']?.Value?.[0]);
    const res = await fetch(`${server.baseUrl}/studies/${study}/metadata`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json[])[0]?.['00100010']?.Value).toEqual(tanaka?.['00100010']?.Value);
    expect(await patientIds({ PatientName: 'Tanaka^Hanako=田中^花子' })).toEqual(['JIS001']);
    expect(await patientIds({ PatientName: 'tanaka^hanako' })).toEqual(['JIS001']);
  });

  test('matches a person name exactly on its alphabetic group, in any case; wildcards and the whole value as before', async () => {
    expect(await patientIds({ PatientName: 'Yamada^Tarou' })).toEqual(['PN001']);
    expect(await patientIds({ PatientName: 'YAMADA^TAROU' })).toEqual(['PN001']);
    expect(await patientIds({ PatientName: YAMADA })).toEqual(['PN001']);
    expect(await patientIds({ PatientName: 'yama*' })).toEqual(['PN001']);
    expect(await patientIds({ PatientName: '*Tarou' })).toEqual(['PN001']); // the alphabetic group ends there
    expect(await patientIds({ PatientName: '*たろう' })).toEqual(['PN001']); // and the whole value
    expect(await patientIds({ PatientName: 'Yamada' })).toEqual([]);
  });

  test('ModalitiesInStudy=* matches every study; wildcards within values match as for other CS attributes', async () => {
    expect(await patientIds({ ModalitiesInStudy: '*' })).toEqual(['JIS001', 'PN001', 'PN002', 'PN003', 'STS_001']);
    expect(await patientIds({ ModalitiesInStudy: 'P*' })).toEqual(['JIS001', 'PN001', 'PN002', 'STS_001']);
    expect(await patientIds({ ModalitiesInStudy: 'C?' })).toEqual(['PN003']);
    expect(await patientIds({ ModalitiesInStudy: 'MR,CT' })).toEqual(['PN003']);
    expect(await patientIds({ ModalitiesInStudy: 'PT\\CT', PatientID: 'PN*' })).toEqual(['PN001', 'PN002', 'PN003']);
    expect(await patientIds({ ModalitiesInStudy: 'p*' })).toEqual([]);
  });

  test('refuses limit and offset beyond safe integers with 400 MIPSEG_BAD_QUERY; the largest safe offset finds nothing', async () => {
    const refused: Array<Record<string, string>> = [{ offset: '1e20' }, { offset: '9007199254740992' }, { limit: '1e400' }];
    for (const params of refused) {
      const res = await search('/studies', params);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
    expect(await studies({ offset: String(Number.MAX_SAFE_INTEGER) })).toEqual([]);
  });

  // `limit=` read as 0: 200 [] with a Warning to page on, and a paging client asked for nothing again and again.
  test('reads an empty limit or offset as absent, and refuses one that is not written in digits', async () => {
    expect(await patientIds({ PatientID: 'PN00*', limit: '' })).toEqual(['PN001', 'PN002', 'PN003']);
    expect(await patientIds({ PatientID: 'PN00*', offset: '' })).toEqual(['PN001', 'PN002', 'PN003']);
    for (const limit of [' 2', '0x2', '2.0']) {
      const res = await search('/studies', { limit });
      expect([limit, res.status]).toEqual([limit, 400]);
    }
  });

  // PS3.4 C.2.2.2.5: in a query it gives the zone of the query's dates and times; matched as a value it left out every
  // study that states no offset (most), without a word.
  test('does not match on TimezoneOffsetFromUTC, and says so', async () => {
    const res = await search('/studies', { PatientID: 'PN00*', TimezoneOffsetFromUTC: '+0100' });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toMatch(/TimezoneOffsetFromUTC/);
    expect((await res.json() as Json[]).map((s) => String(s['00100020']?.Value?.[0])).sort()).toEqual(['PN001', 'PN002', 'PN003']);
  });

  test('ignores matching keys and includefield paths into sequences with a Warning instead of refusing them', async () => {
    const ignored: Array<Record<string, string>> = [{ PatientID: 'PN001', '00081115.0020000E': '1.2' },
      { PatientID: 'PN001', includefield: '00081115.00081150' }, { PatientID: 'PN001', 'ReferencedSeriesSequence.SeriesInstanceUID': '1.2' }];
    for (const params of ignored) {
      const res = await search('/studies', params);
      expect(res.status).toBe(200);
      expect(res.headers.get('warning')).toMatch(/^299 mipseg ".*sequence.*"$/);
      expect(await res.json()).toHaveLength(1);
    }
    // Not a path of DICOM attributes: an unknown parameter, ignored with a Warning as PS3.18 8.3 asks.
    const unknown = await search('/studies', { 'NoSuchKeyword.PatientID': '1' });
    expect(unknown.status).toBe(200);
    expect(unknown.headers.get('warning')).toMatch(/NoSuchKeyword\.PatientID is neither a DICOM keyword or tag/);
  });

  test('reads includefield metadata of at most 8 instances at a time, filling every result', async () => {
    const [sts] = await studies({ PatientID: 'STS_001' });
    const study = String(sts?.['0020000D']?.Value?.[0]);
    let instances: Json[] = [];
    const reads = await watchMetadataReads(server.archive, async () => {
      const res = await search(`/studies/${study}/instances`, { includefield: 'PatientWeight' });
      expect(res.status).toBe(200);
      instances = (await res.json()) as Json[];
    });
    expect(instances).toHaveLength(20);
    expect(instances.every((i) => i['00101030']?.Value?.[0] === 71)).toBe(true);
    expect(reads.calls).toBe(20);
    expect(reads.mostAtOnce).toBeGreaterThan(1);
    expect(reads.mostAtOnce).toBeLessThanOrEqual(8);
  });
});

describeWithSharedData(GE)('QIDO-RS after a corrected re-send', () => {
  let server: TestArchiveServer;
  let work: string;
  const first = join(sharedData(GE).path, readdirSync(sharedData(GE).path).filter((f) => f.endsWith('.dcm')).sort()[0] as string);
  const search = (path: string, params: Record<string, string> = {}) =>
    fetch(`${server.baseUrl}${path}?${new URLSearchParams(params).toString()}`);
  const studies = async (params: Record<string, string>): Promise<Json[]> => {
    const res = await search('/studies', params);
    expect(res.status).toBe(200);
    return (await res.json()) as Json[];
  };
  beforeAll(async () => {
    server = await startTestArchive();
    work = mkdtempSync(join(tmpdir(), 'mipseg-qido-corrected-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a corrected copy of a stored instance (same UIDs) updates what QIDO shows and matches, as WADO metadata does', async () => {
    const original = modifiedSlice(first, work, 'to-correct', { '(0010,0010)': 'Wrong^Name', '(0010,0020)': 'OLD-MRN-7',
      '(0008,1030)': 'BEFORE', '(0008,103E)': 'SERIES BEFORE' });
    expect((await postStow(`${server.baseUrl}/studies`, [original])).status).toBe(200);
    const [before] = await studies({ PatientID: 'OLD-MRN-7' });
    const study = String(before?.['0020000D']?.Value?.[0]);
    // The same study, series and instance UIDs: dcmodify without -g* keeps them.
    const path = join(work, 'corrected.dcm');
    copyFileSync(join(work, 'to-correct.dcm'), path);
    const run = spawnSync('dcmodify', ['-nb', '-m', '(0010,0010)=Right^Name', '-m', '(0010,0020)=NEW-MRN-7', '-m', '(0008,1030)=AFTER',
      '-m', '(0008,103E)=SERIES AFTER', path], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    const replaced = await postStow(`${server.baseUrl}/studies`, [readFileSync(path)]);
    expect(replaced.status).toBe(202); // stored, with the warning that it replaced an earlier copy

    expect(await studies({ PatientID: 'OLD-MRN-7' })).toEqual([]);
    const [after] = await studies({ PatientID: 'NEW-MRN-7' });
    expect([after?.['0020000D']?.Value?.[0], after?.['00100010']?.Value, after?.['00081030']?.Value])
      .toEqual([study, [{ Alphabetic: 'Right^Name' }], ['AFTER']]);
    expect(await studies({ PatientName: 'Wrong^Name' })).toEqual([]);
    const series = (await (await search(`/studies/${study}/series`, { SeriesDescription: 'SERIES AFTER' })).json()) as Json[];
    expect(series).toHaveLength(1);
    const metadata = (await (await fetch(`${server.baseUrl}/studies/${study}/metadata`)).json()) as Json[];
    expect(metadata[0]?.['00100020']?.Value).toEqual(['NEW-MRN-7']);
  });

  test('a name stored with empty trailing components (Doe^John^^^) is found by the name without them, and the other way round', async () => {
    const trailing = modifiedSlice(first, work, 'trailing', { '(0010,0010)': 'Doe^Jane^^^', '(0010,0020)': 'TRAIL-1' });
    const plain = modifiedSlice(first, work, 'plain', { '(0010,0010)': 'Roe^Richard', '(0010,0020)': 'TRAIL-2' });
    expect((await postStow(`${server.baseUrl}/studies`, [trailing, plain])).status).toBe(200);
    const ids = async (name: string) => (await studies({ PatientName: name })).map((s) => s['00100020']?.Value?.[0]);
    expect(await ids('Doe^Jane')).toEqual(['TRAIL-1']);
    expect(await ids('doe^jane^^')).toEqual(['TRAIL-1']);
    expect(await ids('Roe^Richard^^^')).toEqual(['TRAIL-2']);
    const [doe] = await studies({ PatientID: 'TRAIL-1' });
    expect(doe?.['00100010']?.Value).toEqual([{ Alphabetic: 'Doe^Jane' }]);
  });
});
