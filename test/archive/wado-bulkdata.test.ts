import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import * as dicomParser from 'dicom-parser';
import { readMultipartParts } from '@mipseg/shared/dicomweb';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const GE_SLICE = 'data/pet-dicom/ge-discovery-st-wholebody/1-001.dcm';
const FRACTIONAL_SEG = 'data/seg-examples/highdicom-seg_image_ct_binary_fractional.dcm';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

type Attribute = { vr: string; Value?: unknown[]; InlineBinary?: string; BulkDataURI?: string };
type Json = Record<string, Attribute>;
interface Part {
  readonly contentType: string;
  readonly body: Buffer;
}

const toArrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;

/** A copy of `bytes` in Explicit VR Little Endian under a new SOP Instance UID, edited by `edit` (dcmjs dictionary). */
function rewrite(bytes: Buffer, sopInstanceUid: string, edit: (dict: dcmjs.DicomJsonDict) => void = () => undefined): Buffer {
  const parsed = dcmjs.data.DicomMessage.readFile(toArrayBuffer(bytes));
  parsed.meta['00020010'] = { vr: 'UI', Value: [EXPLICIT_VR_LITTLE_ENDIAN] };
  parsed.meta['00020003'] = { vr: 'UI', Value: [sopInstanceUid] };
  parsed.dict['00080018'] = { vr: 'UI', Value: [sopInstanceUid] };
  edit(parsed.dict);
  return Buffer.from(parsed.write());
}

/** Runs a dcmtk compressor (dcmcjpeg, dcmcrle) on `bytes`; throws where dcmtk is missing or fails. */
function compress(tool: string, args: readonly string[], bytes: Buffer): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-bulk-'));
  try {
    writeFileSync(join(dir, 'in.dcm'), bytes);
    const run = spawnSync(tool, [...args, join(dir, 'in.dcm'), join(dir, 'out.dcm')], { encoding: 'utf8', timeout: 60_000 });
    if (run.error) throw new Error(`${tool} cannot run (apt-get install dcmtk): ${run.error.message}`);
    if (run.status !== 0) throw new Error(`${tool} exited ${run.status}: ${run.stderr}`);
    return readFileSync(join(dir, 'out.dcm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The fragments of encapsulated Pixel Data, read item by item from the file's bytes (PS3.5 A.4), independently
 * of the gateway's parser: the Basic Offset Table item first, then the fragments up to the sequence delimiter.
 */
function fragmentsOf(file: Buffer): { basicOffsetTable: Buffer; fragments: Buffer[] } {
  const header = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  let at = file.lastIndexOf(header) + header.length;
  const items: Buffer[] = [];
  for (;;) {
    const group = file.readUInt16LE(at);
    const element = file.readUInt16LE(at + 2);
    const length = file.readUInt32LE(at + 4);
    if (group !== 0xfffe) throw new Error(`not an item at ${at}`);
    if (element === 0xe0dd) break;
    items.push(file.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  const [basicOffsetTable = Buffer.alloc(0), ...fragments] = items;
  return { basicOffsetTable, fragments };
}

async function readParts(res: Response): Promise<Part[]> {
  const parts = await readMultipartParts(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
  return parts.map((p) => ({ contentType: p.headers['content-type'] ?? '', body: p.body }));
}

/** Every BulkDataURI in an instance's metadata, with the tag path that leads to it. */
function bulkDataUris(json: Json, path: string[] = []): { path: string[]; uri: string }[] {
  return Object.entries(json).flatMap(([tag, attribute]) => {
    const here = [...path, tag];
    if (attribute.BulkDataURI) return [{ path: here, uri: attribute.BulkDataURI }];
    if (attribute.vr !== 'SQ') return [];
    return (attribute.Value ?? []).flatMap((item) => bulkDataUris(item as Json, here));
  });
}

describeWithSharedData(GE_SLICE)('WADO-RS bulkdata: every BulkDataURI in the metadata resolves', () => {
  let server: TestArchiveServer;
  let slice: Buffer;
  // Values to find again byte for byte: a GE/Siemens-style private blob as OB and as UN, an ICC profile, overlay
  // data, a small private value (inline), and an icon image inside a sequence.
  const values = {
    '00091001': randomBytes(5000),
    '00091002': randomBytes(3002),
    '00282000': randomBytes(1500),
    '60003000': randomBytes(128 * 128 / 8),
    '00091003': randomBytes(600),
    icon: randomBytes(64 * 64),
  };

  beforeAll(async () => {
    slice = readFileSync(sharedData(GE_SLICE).path);
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  async function storeAndReadMetadata(file: Buffer): Promise<{ metadata: Json; url: string }> {
    const stored = await postStow(`${server.baseUrl}/studies`, [file]);
    expect(stored.status).toBe(200);
    const url = String(stored.body?.['00081199']?.Value?.[0]?.['00081190']?.Value?.[0]);
    const res = await fetch(`${url}/metadata`);
    expect(res.status).toBe(200);
    const [metadata] = (await res.json()) as Json[];
    return { metadata: metadata as Json, url };
  }

  test('private OB and UN blobs, an ICC profile, overlay data and Pixel Data come back byte for byte', async () => {
    const file = rewrite(slice, '1.2.826.0.1.3680043.8.498.7001', (dict) => {
      dict['00090010'] = { vr: 'LO', Value: ['MIPSEG TEST'] };
      dict['00091001'] = { vr: 'OB', Value: [toArrayBuffer(values['00091001'])] };
      dict['00091002'] = { vr: 'UN', Value: [toArrayBuffer(values['00091002'])] };
      dict['00091003'] = { vr: 'OB', Value: [toArrayBuffer(values['00091003'])] };
      dict['00282000'] = { vr: 'OB', Value: [toArrayBuffer(values['00282000'])] };
      Object.assign(dict, {
        '60000010': { vr: 'US', Value: [128] }, '60000011': { vr: 'US', Value: [128] }, '60000040': { vr: 'CS', Value: ['G'] },
        '60000050': { vr: 'SS', Value: [1, 1] }, '60000100': { vr: 'US', Value: [1] }, '60000102': { vr: 'US', Value: [0] },
        '60003000': { vr: 'OW', Value: [toArrayBuffer(values['60003000'])] },
      });
      dict['00880200'] = { vr: 'SQ', Value: [{
        '00280002': { vr: 'US', Value: [1] }, '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
        '00280010': { vr: 'US', Value: [64] }, '00280011': { vr: 'US', Value: [64] }, '00280100': { vr: 'US', Value: [8] },
        '00280101': { vr: 'US', Value: [8] }, '00280102': { vr: 'US', Value: [7] }, '00280103': { vr: 'US', Value: [0] },
        '7FE00010': { vr: 'OB', Value: [toArrayBuffer(values.icon)] },
      }] };
    });
    const pixel = dicomParser.parseDicom(file).elements['x7fe00010'] as dicomParser.Element;
    const expected: Record<string, Buffer> = {
      '00091001': values['00091001'], '00091002': values['00091002'], '00282000': values['00282000'],
      '60003000': values['60003000'], '7FE00010': file.subarray(pixel.dataOffset, pixel.dataOffset + pixel.length),
    };

    const { metadata, url } = await storeAndReadMetadata(file);
    const followed = [];
    for (const { path, uri } of bulkDataUris(metadata)) {
      const at = path.join('/');
      const res = await fetch(uri);
      const parts = res.status === 200 ? await readParts(res) : [];
      followed.push({ at, uri, status: res.status, type: res.headers.get('content-type')?.split(';')[1]?.trim(),
        parts: parts.map((p) => p.contentType), sameBytes: parts[0]?.body.equals(expected[at] ?? Buffer.alloc(0)) ?? false });
    }
    expect(followed.sort((a, b) => a.at.localeCompare(b.at))).toEqual(Object.keys(expected).sort().map((at) => ({
      at, uri: `${url}/bulkdata/${at}`, status: 200, type: 'type="application/octet-stream"', parts: ['application/octet-stream'], sameBytes: true,
    })));
    // Small values, and any inside a sequence item (whose tag the route cannot name), are inline.
    expect(metadata['00091003']?.InlineBinary).toBe(values['00091003'].toString('base64'));
    const icon = (metadata['00880200']?.Value?.[0] as Json)['7FE00010'];
    expect(icon?.InlineBinary).toBe(values.icon.toString('base64'));
    expect((await fetch(`${url}/bulkdata/00091099`)).status).toBe(404);
    // Native bulk data is application/octet-stream only: other media types are not acceptable.
    for (const accept of ['text/html', 'image/jpeg', 'application/dicom+json', 'multipart/related; type="image/jpeg"']) {
      const res = await fetch(`${url}/bulkdata/7FE00010`, { headers: { Accept: accept } });
      expect({ accept, status: res.status }).toEqual({ accept, status: 406 });
    }
    for (const accept of ['*/*', 'multipart/related; type="application/octet-stream"', 'multipart/related']) {
      const res = await fetch(`${url}/bulkdata/7FE00010`, { headers: { Accept: accept } });
      expect({ accept, status: res.status }).toEqual({ accept, status: 200 });
    }
  });

  test('native frames and Pixel Data go as Explicit VR Little Endian octets: another transfer syntax is 406, or the next entry', async () => {
    // The GE slice as the scanner wrote it (Implicit VR Little Endian): native PET data.
    const { url } = await storeAndReadMetadata(slice);
    const octets = 'multipart/related; type="application/octet-stream"';
    const contentTypes = async (resource: string, accept: string) => {
      const res = await fetch(`${url}/${resource}`, { headers: { Accept: accept } });
      return res.status === 200 ? (await readParts(res)).map((p) => p.contentType) : res.status;
    };
    const served = { 'frames/1': [`application/octet-stream; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}`], 'bulkdata/7FE00010': ['application/octet-stream'] };
    for (const [resource, parts] of Object.entries(served)) {
      for (const ts of ['', '; transfer-syntax=*', `; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}`, `; transfer-syntax="${EXPLICIT_VR_LITTLE_ENDIAN}"`]) {
        expect({ resource, ts, served: await contentTypes(resource, `${octets}${ts}`) }).toEqual({ resource, ts, served: parts });
      }
      // JPEG-LS, JPEG Lossless and Explicit VR Big Endian: mipseg neither compresses nor byte-swaps for clients.
      for (const ts of ['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.2']) {
        expect({ resource, ts, served: await contentTypes(resource, `${octets}; transfer-syntax=${ts}`) }).toEqual({ resource, ts, served: 406 });
      }
      const listed = `${octets}; transfer-syntax=1.2.840.10008.1.2.4.80, ${octets}; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}; q=0.5`;
      expect({ resource, served: await contentTypes(resource, listed) }).toEqual({ resource, served: parts });
    }
  });

  test('compressed Pixel Data: its BulkDataURI serves the JPEG bitstream, fragments joined without item delimiters', async () => {
    // Fragments of at most 4 KB, so that one frame spans several.
    const file = compress('dcmcjpeg', ['+fs', '4'], rewrite(slice, '1.2.826.0.1.3680043.8.498.7002'));
    const { fragments } = fragmentsOf(file);
    expect(fragments.length).toBeGreaterThan(1);
    const { metadata, url } = await storeAndReadMetadata(file);
    expect(metadata['7FE00010']).toEqual({ vr: 'OB', BulkDataURI: `${url}/bulkdata/7FE00010` });

    const res = await fetch(`${url}/bulkdata/7FE00010`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/related; type="image\/jpeg"/);
    const parts = await readParts(res);
    expect(parts.map((p) => p.contentType)).toEqual(['image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70']);
    expect(parts[0]?.body.equals(Buffer.concat(fragments))).toBe(true);
    expect(parts[0]?.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    const asStored = await fetch(`${url}/bulkdata/7FE00010`, {
      headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(asStored.status).toBe(200);
    expect((await readParts(asStored)).map((p) => p.contentType)).toEqual(['application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.70']);
    // application/octet-stream without transfer-syntax=* means uncompressed (PS3.18 8.7.3.3): not transcoded.
    const uncompressed = await fetch(`${url}/bulkdata/7FE00010`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(uncompressed.status).toBe(406);
    // Several acceptable entries: the part type is the winning entry's, not the last one looked at; q=0 refuses.
    const partType = async (accept: string) =>
      (await readParts(await fetch(`${url}/bulkdata/7FE00010`, { headers: { Accept: accept } }))).map((p) => p.contentType.split(';')[0]);
    const octet = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
    expect(await partType(`${octet}, */*;q=0.1`)).toEqual(['application/octet-stream']);
    expect(await partType(`${octet};q=0.9, multipart/related; type="image/jpeg";q=0.5`)).toEqual(['application/octet-stream']);
    expect(await partType(`multipart/related; type="image/jpeg", ${octet};q=0`)).toEqual(['image/jpeg']);
  });

});

describeWithSharedData(FRACTIONAL_SEG)('WADO-RS bulkdata of compressed multi-frame Pixel Data', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test('is served one part per frame, each frame\'s RLE bitstream', async () => {
    const file = compress('dcmcrle', [], rewrite(readFileSync(sharedData(FRACTIONAL_SEG).path), '1.2.826.0.1.3680043.8.498.7003'));
    const { basicOffsetTable, fragments } = fragmentsOf(file);
    expect(fragments).toHaveLength(3);
    expect(basicOffsetTable.length).toBe(12);
    const stored = await postStow(`${server.baseUrl}/studies`, [file]);
    expect(stored.status).toBe(200);
    const url = String(stored.body?.['00081199']?.Value?.[0]?.['00081190']?.Value?.[0]);
    const [metadata] = (await (await fetch(`${url}/metadata`)).json()) as Json[];
    const res = await fetch(String(metadata?.['7FE00010']?.BulkDataURI), { headers: { Accept: 'multipart/related; type="image/dicom-rle"' } });
    expect(res.status).toBe(200);
    const parts = await readParts(res);
    expect(parts.map((p) => p.contentType)).toEqual(Array(3).fill('image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5'));
    parts.forEach((p, f) => expect(p.body.equals(fragments[f] as Buffer)).toBe(true));
  });

  test('its frames are served as stored when asked as OHIF asks (octet-stream, transfer-syntax=*), or in their media type', async () => {
    const file = compress('dcmcrle', [], rewrite(readFileSync(sharedData(FRACTIONAL_SEG).path), '1.2.826.0.1.3680043.8.498.7004'));
    const { fragments } = fragmentsOf(file);
    const stored = await postStow(`${server.baseUrl}/studies`, [file]);
    expect(stored.status).toBe(200);
    const url = String(stored.body?.['00081199']?.Value?.[0]?.['00081190']?.Value?.[0]);
    const ohif = { Accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' };
    const res = await fetch(`${url}/frames/3,1`, { headers: ohif });
    expect(res.status).toBe(200);
    const parts = await readParts(res);
    expect(parts.map((p) => p.contentType)).toEqual(Array(2).fill('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.5'));
    expect([parts[0]?.body.equals(fragments[2] as Buffer), parts[1]?.body.equals(fragments[0] as Buffer)]).toEqual([true, true]);

    const own = await fetch(`${url}/frames/2`, { headers: { Accept: 'multipart/related; type="image/dicom-rle"' } });
    expect((await readParts(own)).map((p) => p.contentType)).toEqual(['image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5']);
    // Uncompressed octet-stream (no transfer-syntax) would need decompressing, which mipseg does not do; nor a frame it lacks.
    expect((await fetch(`${url}/frames/1`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } })).status).toBe(406);
    expect((await fetch(`${url}/frames/4`, { headers: ohif })).status).toBe(404);
  });
});

describe('WADO-RS bulk data of an Explicit VR Big Endian instance', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test('its Pixel Data BulkDataURI answers the samples as little-endian octets, as the standard has bulk data, not 406', async () => {
    const samples = Int16Array.from({ length: 16 }, (_, i) => (i - 8) * 300);
    const littleEndian = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.9901.1.1', seriesInstanceUid: '2.25.9901.1',
      imagePositionPatient: [0, 0, 0], stored: Array.from(samples), attributes: { StudyInstanceUID: '2.25.9901' } }));
    const bigEndian = compress('dcmconv', ['+tb'], littleEndian);
    expect((await postStow(`${server.baseUrl}/studies`, [bigEndian])).status).toBe(200);
    const [metadata] = (await (await fetch(`${server.baseUrl}/studies/2.25.9901/series/2.25.9901.1/instances/2.25.9901.1.1/metadata`))
      .json()) as Json[];
    const res = await fetch(String(metadata?.['7FE00010']?.BulkDataURI),
      { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(res.status).toBe(200);
    const [part] = await readParts(res);
    expect(part?.body.equals(Buffer.from(samples.buffer))).toBe(true);
  });
});
