import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dicomParser from 'dicom-parser';
import { readMultipartParts } from '@mipseg/shared/dicomweb';
import { dciodvfy, pydicomAvailable, runPythonJson } from '../support/dicom-tools';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';
import { syntheticPetInstance } from '../pipeline/dicom-output/synthetic-source';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
const SINGLES = 'data/pet-dicom/singles';
const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';
const DICOM = 'multipart/related; type="application/dicom"';

interface Part {
  readonly contentType: string;
  readonly body: Buffer;
}

async function retrieve(url: string, accept?: string): Promise<{ status: number; parts: Part[] }> {
  const res = await fetch(url, { headers: accept === undefined ? {} : { Accept: accept } });
  if (res.status !== 200) return { status: res.status, parts: [] };
  const parts = (await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()))).map((p) => {
    expect(p.headers['content-length']).toBe(String(p.body.length));
    return { contentType: p.headers['content-type'] ?? '', body: p.body };
  });
  return { status: res.status, parts };
}

const sopInstanceUid = (file: Buffer): string => dicomParser.parseDicom(file, { untilTag: 'x00080018' }).string('x00080018') ?? '';

/** Stores files by STOW-RS; the URL of each stored instance, in order. */
async function store(server: TestArchiveServer, files: readonly Buffer[]): Promise<string[]> {
  const reply = await postStow(`${server.baseUrl}/studies`, files);
  expect(reply.status).toBe(200);
  return (reply.body?.['00081199']?.Value ?? []).map((item) => String(item['00081190']?.Value?.[0]));
}

/**
 * Every element as pydicom reads it, group lengths left out (the encoding changes them): tag, VR and the value's
 * bytes as stored (not pydicom's conversion, which would hide a changed padding byte), sequences item by item.
 */
const PYDICOM_ELEMENTS = String.raw`
import json, sys
import pydicom
def vr(elem):
    return str(getattr(elem.VR, 'value', elem.VR))
def elements(ds):
    out = []
    for tag in list(ds.keys()):
        raw = ds._dict[tag]
        value = raw.value if isinstance(raw, pydicom.dataelem.RawDataElement) else None
        elem = ds[tag]
        if tag.element == 0:
            continue
        if vr(elem) == 'SQ':
            out.append([str(tag), 'SQ', [elements(item) for item in elem.value]])
        else:
            out.append([str(tag), vr(elem), (value or b'').hex()])
    return out
result = []
for path in sys.argv[1:]:
    ds = pydicom.dcmread(path)
    result.append({'transferSyntaxUid': str(ds.file_meta.TransferSyntaxUID), 'implicit': ds.is_implicit_VR, 'elements': elements(ds)})
print(json.dumps(result))
`;

/**
 * dcmdump +L of a file, with what only the encoding decides taken out: File Meta group length and transfer syntax,
 * group lengths, sequence and item lengths, and the "??" dcmdump prints for an Implicit VR element it does not
 * know (the transcoded file says UN). +uc reads a UN element that dcmtk knows under the dictionary's VR, as it
 * reads the Implicit VR original.
 */
function normalisedDump(path: string): string[] {
  const run = spawnSync('dcmdump', ['-q', '+L', '+uc', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`dcmdump ${path}: ${run.stderr}`);
  return run.stdout.split('\n')
    .filter((line) => !/^# Used TransferSyntax|^\(0002,0010\)|^\s*\([0-9a-f]{4},0000\)/.test(line))
    .map((line) => line.replace(/^(\s*\([0-9a-f]{4},[0-9a-f]{4}\)) \?\? /, '$1 UN '))
    .map((line) => (/ (SQ|na) \(/.test(line) ? line.replace(/\((Sequence|Item) with (explicit|undefined) length/, '($1').replace(/#\s*(\d+|u\/l),/, '#,') : line));
}

/** Checks a returned Explicit VR Little Endian copy against the stored Implicit VR file, element by element. */
function expectSameDataSet(work: string, stored: Buffer, returned: Buffer): void {
  const name = sopInstanceUid(stored);
  const storedPath = join(work, `${name}.stored.dcm`);
  const returnedPath = join(work, `${name}.returned.dcm`);
  writeFileSync(storedPath, stored);
  writeFileSync(returnedPath, returned);
  expect(normalisedDump(returnedPath)).toEqual(normalisedDump(storedPath));
  const storedErrors = dciodvfy(storedPath).errors;
  expect(dciodvfy(returnedPath).errors.filter((e) => !storedErrors.includes(e))).toEqual([]);
  if (!pydicomAvailable()) return;
  const [before, after] = runPythonJson(PYDICOM_ELEMENTS, [storedPath, returnedPath]) as { transferSyntaxUid: string; implicit: boolean; elements: unknown }[];
  expect(before?.transferSyntaxUid).toBe(IMPLICIT);
  expect(after?.transferSyntaxUid).toBe(EXPLICIT);
  expect(after?.implicit).toBe(false);
  expect(after?.elements).toEqual(before?.elements);
}

describeWithSharedData(GE)('WADO-RS retrieve in Explicit VR Little Endian, the PS3.18 default transfer syntax', () => {
  let server: TestArchiveServer;
  let work: string;
  let seriesUrl: string;
  let mipsegUrl: string;
  const slices = ['1-001.dcm', '1-002.dcm', '1-003.dcm'].map((f) => readFileSync(join(sharedData(GE).path, f)));
  const storedByUid = new Map(slices.map((s) => [sopInstanceUid(s), s]));
  // Written by mipseg's own Part 10 writer, in Explicit VR Little Endian.
  const mipsegInstance = syntheticPetInstance({ sopInstanceUid: '2.25.4242.9001' });

  beforeAll(async () => {
    server = await startTestArchive();
    // The checks below block this process (spawnSync), server and client alike, for seconds: the server's keep-alive
    // timer (5 s) then fires late, just as fetch reuses the idle connection, which is reset under it (ECONNRESET).
    server.gateway.server.keepAliveTimeout = 60_000;
    work = mkdtempSync(join(tmpdir(), 'mipseg-wado-ts-'));
    const [first] = await store(server, slices);
    seriesUrl = String(first).replace(/\/instances\/[^/]+$/, '');
    [mipsegUrl = ''] = await store(server, [mipsegInstance]);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('with no transfer-syntax parameter, sends Implicit VR instances in Explicit VR Little Endian, every value unchanged', async () => {
    const { status, parts } = await retrieve(seriesUrl, DICOM);
    expect(status).toBe(200);
    expect(parts.map((p) => p.contentType)).toEqual(Array(3).fill(`application/dicom; transfer-syntax=${EXPLICIT}`));
    for (const part of parts) {
      const stored = storedByUid.get(sopInstanceUid(part.body)) as Buffer;
      expect(stored).toBeDefined();
      expectSameDataSet(work, stored, part.body);
    }
  });

  test('transcodes when asked for Explicit VR Little Endian by name, and without an Accept header', async () => {
    const byDefault = await retrieve(seriesUrl, DICOM);
    const named = await retrieve(seriesUrl, `${DICOM}; transfer-syntax=${EXPLICIT}`);
    const noAccept = await retrieve(seriesUrl);
    expect([named.status, noAccept.status]).toEqual([200, 200]);
    expect(named.parts).toEqual(byDefault.parts);
    expect(noAccept.parts).toEqual(byDefault.parts);
  });

  test('transfer-syntax=* and the stored transfer syntax by name send the stored bytes', async () => {
    for (const accept of [`${DICOM}; transfer-syntax=*`, `${DICOM}; transfer-syntax=${IMPLICIT}`]) {
      const { status, parts } = await retrieve(seriesUrl, accept);
      expect(status).toBe(200);
      expect(parts.map((p) => p.contentType)).toEqual(Array(3).fill(`application/dicom; transfer-syntax=${IMPLICIT}`));
      for (const part of parts) expect(part.body.equals(storedByUid.get(sopInstanceUid(part.body)) as Buffer)).toBe(true);
    }
  });

  test('sends mipseg\'s own Explicit VR Little Endian instances byte for byte, however asked', async () => {
    for (const accept of [DICOM, `${DICOM}; transfer-syntax=${EXPLICIT}`, `${DICOM}; transfer-syntax=*`]) {
      const { status, parts } = await retrieve(mipsegUrl, accept);
      expect(status).toBe(200);
      expect(parts.map((p) => p.contentType)).toEqual([`application/dicom; transfer-syntax=${EXPLICIT}`]);
      expect(parts[0]?.body.equals(mipsegInstance)).toBe(true);
    }
  });

  test('refuses a transfer syntax it cannot produce from Implicit VR with 406', async () => {
    expect((await retrieve(seriesUrl, `${DICOM}; transfer-syntax=1.2.840.10008.1.2.2`)).status).toBe(406);
    expect((await retrieve(seriesUrl, `${DICOM}; transfer-syntax=${JPEG_LOSSLESS_SV1}`)).status).toBe(406);
  });
});

describeWithSharedData(SINGLES)('WADO-RS retrieve of other vendors\' files in the default transfer syntax', () => {
  let server: TestArchiveServer;
  let work: string;
  const read = (name: string) => readFileSync(join(sharedData(SINGLES).path, name));

  beforeAll(async () => {
    server = await startTestArchive();
    work = mkdtempSync(join(tmpdir(), 'mipseg-wado-ts-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  // dcm4che's file has group lengths, defined-length sequences, Siemens private elements and odd padding.
  test.each(['dicomweb-client-sample.dcm', 'orthanc-tests-Issue94.dcm'])('%s (Implicit VR) comes back in Explicit VR, every value unchanged', async (name) => {
    const stored = read(name);
    const [url = ''] = await store(server, [stored]);
    const { status, parts } = await retrieve(url, DICOM);
    expect(status).toBe(200);
    expect(parts.map((p) => p.contentType)).toEqual([`application/dicom; transfer-syntax=${EXPLICIT}`]);
    expectSameDataSet(work, stored, (parts[0] as Part).body);
  });

  test('a compressed instance goes as stored when no transfer syntax is named, and 406 when Explicit VR is', async () => {
    const stored = read('fo-dicom-GH184.dcm');
    const [url = ''] = await store(server, [stored]);
    const asStored = [`application/dicom; transfer-syntax=${JPEG_LOSSLESS_SV1}`];
    const byDefault = await retrieve(url, DICOM);
    expect(byDefault.parts.map((p) => p.contentType)).toEqual(asStored);
    expect(byDefault.parts[0]?.body.equals(stored)).toBe(true);
    expect((await retrieve(url, `${DICOM}; transfer-syntax=${EXPLICIT}`)).status).toBe(406);
    // The next acceptable entry, by q-value, is taken instead.
    const fallback = await retrieve(url, `${DICOM}; transfer-syntax=${EXPLICIT}, ${DICOM}; transfer-syntax=*; q=0.5`);
    expect(fallback.parts.map((p) => p.contentType)).toEqual(asStored);
  });

  test('a study of Implicit VR and JPEG Lossless instances, asked for in Explicit VR or JPEG Lossless, sends each in one of them', async () => {
    // The JPEG Lossless file moved into the Implicit VR file's study, and to its patient (an instance of another
    // patient is refused there), by dcmodify, which keeps its transfer syntax.
    const implicit = read('dicomweb-client-sample.dcm');
    const header = dicomParser.parseDicom(implicit, { untilTag: 'x0020000d' });
    const study = header.string('x0020000d') ?? '';
    const patientId = header.string('x00100020') ?? '';
    const moved = join(work, 'gh184-moved.dcm');
    writeFileSync(moved, read('fo-dicom-GH184.dcm'));
    // New series and instance UIDs too: the test before stored the file as it is, under its own study.
    expect(spawnSync('dcmodify', ['-nb', '-m', `(0020,000D)=${study}`, '-m', `(0010,0020)=${patientId}`, '-m', '(0020,000E)=2.25.88201',
      '-m', '(0008,0018)=2.25.88202', moved]).status).toBe(0);
    const [url = ''] = await store(server, [implicit, readFileSync(moved)]);
    const studyUrl = url.slice(0, url.indexOf('/series/'));
    const { status, parts } = await retrieve(studyUrl, `${DICOM}; transfer-syntax=${EXPLICIT}, ${DICOM}; transfer-syntax=${JPEG_LOSSLESS_SV1}`);
    expect(status).toBe(200);
    expect(parts.map((p) => p.contentType).sort()).toEqual([`application/dicom; transfer-syntax=${EXPLICIT}`,
      `application/dicom; transfer-syntax=${JPEG_LOSSLESS_SV1}`]);
  });
});
