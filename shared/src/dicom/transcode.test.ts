import { readDicomJson } from './dicom-json';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dicomParser from 'dicom-parser';
import { describeWithSharedData, sharedData } from '../../../test/support/shared-data';
import { errorCodeOf } from '../../../test/pipeline/dicom-output/synthetic-source';
import { dictionaryVr } from './implicit-data-set';
import { transcodeToExplicitVrLittleEndian } from './transcode';

const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const UNDEFINED = 0xffffffff;

/** One Implicit VR element (tag, 32-bit length, value); `length` overrides the value's. */
function el(tag: number, value: Buffer | string, length?: number): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const head = Buffer.alloc(8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.writeUInt32LE(length ?? bytes.length, 4);
  return Buffer.concat([head, bytes]);
}

const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);
const itemOf = (elements: Buffer, undefinedLength: boolean) => undefinedLength
  ? Buffer.concat([el(0xfffee000, elements, UNDEFINED), el(0xfffee00d, '')])
  : el(0xfffee000, elements);
const sequence = (tag: number, items: readonly Buffer[], undefinedLength: boolean) => undefinedLength
  ? Buffer.concat([el(tag, Buffer.concat(items), UNDEFINED), el(0xfffee0dd, '')])
  : el(tag, Buffer.concat(items));

/** A PS3.10 file: preamble, an Explicit VR File Meta group as a DIMSE receiver writes it, then `dataSet`. */
function implicitFile(dataSet: Buffer, transferSyntaxUid = IMPLICIT): Buffer {
  const explicit = (tag: number, vr: string, value: Buffer) => {
    const long = vr === 'OB';
    const head = Buffer.alloc(long ? 12 : 8);
    head.writeUInt16LE(0x0002, 0);
    head.writeUInt16LE(tag, 2);
    head.write(vr, 4, 'latin1');
    if (long) head.writeUInt32LE(value.length, 8);
    else head.writeUInt16LE(value.length, 6);
    return Buffer.concat([head, value]);
  };
  const uid = (u: string) => Buffer.from(u.length % 2 ? `${u}\0` : u, 'latin1');
  const meta = Buffer.concat([
    explicit(0x0001, 'OB', Buffer.from([0, 1])),
    explicit(0x0010, 'UI', uid(transferSyntaxUid)),
    explicit(0x0012, 'UI', uid('1.2.3.4')),
    explicit(0x0016, 'AE', Buffer.from('SENDER')),
  ]);
  const preamble = Buffer.alloc(128, 0x5a);
  return Buffer.concat([preamble, Buffer.from('DICM'), explicit(0x0000, 'UL', Buffer.from([meta.length, 0, 0, 0])), meta, dataSet]);
}

function transcode(file: Buffer): { bytes: Buffer; dataSet: dicomParser.DataSet } {
  const bytes = Buffer.concat(transcodeToExplicitVrLittleEndian(file));
  return { bytes, dataSet: dicomParser.parseDicom(bytes) };
}

function valueOf(ds: dicomParser.DataSet, tag: string): { vr: string | undefined; bytes: Buffer } {
  const e = ds.elements[tag];
  if (!e) throw new Error(`${tag} missing`);
  return { vr: e.vr, bytes: Buffer.from(ds.byteArray.subarray(e.dataOffset, e.dataOffset + e.length)) };
}

describe('transcodeToExplicitVrLittleEndian', () => {
  test('writes every value\'s bytes as stored, under its VR from the data dictionary', () => {
    const pixels = Buffer.from(Array.from({ length: 64 }, (_, i) => i * 3));
    const values: Record<string, [string, Buffer]> = {
      x00080005: ['CS', Buffer.from('ISO_IR 100')],
      x00100010: ['PN', Buffer.from('M\xfcller^J ', 'latin1')],
      x00101030: ['DS', Buffer.from('71.0')],
      x00200013: ['IS', Buffer.from('01')],
      x00280103: ['US', us(1)],
      x00280106: ['SS', Buffer.from([0xff, 0xff])],
      x00090010: ['LO', Buffer.from('ACME 1.0')],
      x00091001: ['UN', Buffer.from('1.5 ')],
      x60003000: ['OW', Buffer.from([1, 2, 3, 4])],
      x60020010: ['US', us(128)],
      x7fe00010: ['OW', pixels],
      xfffcfffc: ['OB', Buffer.alloc(6)],
    };
    const tagOf = (key: string) => parseInt(key.slice(1), 16) >>> 0;
    const dataSet = Buffer.concat(Object.entries(values).sort().map(([key, [, value]]) => el(tagOf(key), value)));
    const { dataSet: ds } = transcode(implicitFile(dataSet));
    expect(ds.string('x00020010')).toBe(EXPLICIT);
    for (const [key, [vr, value]] of Object.entries(values)) expect([key, valueOf(ds, key)]).toEqual([key, { vr, bytes: value }]);
  });

  test('gives US-or-SS values the VR their own data set\'s Pixel Representation calls for, else the enclosing one\'s', () => {
    const icon = Buffer.concat([el(0x00280103, us(0)), el(0x00280106, us(7))]);
    const mapping = el(0x00409216, us(0xfff0));
    const dataSet = Buffer.concat([
      el(0x00280103, us(1)),
      sequence(0x00409096, [itemOf(mapping, false)], false),
      sequence(0x00880200, [itemOf(icon, true)], true),
    ]);
    const { dataSet: ds } = transcode(implicitFile(dataSet));
    const [iconItem] = ds.elements['x00880200']?.items ?? [];
    const [mappingItem] = ds.elements['x00409096']?.items ?? [];
    expect(iconItem?.dataSet?.elements['x00280106']?.vr).toBe('US');
    expect(mappingItem?.dataSet?.elements['x00409216']?.vr).toBe('SS');
  });

  test('keeps each sequence and item in its length form, recomputing defined lengths for the new encoding', () => {
    const code = Buffer.concat([el(0x00080100, '113100'), el(0x00080102, 'DCM ')]);
    const nested = sequence(0x00540300, [itemOf(code, false), itemOf(code, true)], false);
    const dataSet = Buffer.concat([
      sequence(0x00120064, [itemOf(code, true), itemOf(code, false)], true),
      sequence(0x00540016, [itemOf(Buffer.concat([el(0x00181074, '3.88E8'), nested]), false)], false),
    ]);
    const { bytes, dataSet: ds } = transcode(implicitFile(dataSet));
    const forms = (tag: string, d: dicomParser.DataSet = ds) => {
      const e = d.elements[tag] as dicomParser.Element;
      return { sequence: e.hadUndefinedLength === true, items: (e.items ?? []).map((i) => i.hadUndefinedLength === true) };
    };
    expect(forms('x00120064')).toEqual({ sequence: true, items: [true, false] });
    expect(forms('x00540016')).toEqual({ sequence: false, items: [false] });
    const outer = ds.elements['x00540016']?.items?.[0]?.dataSet as dicomParser.DataSet;
    expect(forms('x00540300', outer)).toEqual({ sequence: false, items: [false, true] });
    // A defined length that were left as stored would end the sequence too early: the element after it would be lost.
    expect(outer.string('x00181074')).toBe('3.88E8');
    const sq = ds.elements['x00540016'] as dicomParser.Element;
    expect(sq.dataOffset + sq.length).toBe(bytes.length);
    expect(outer.elements['x00540300']?.items?.[1]?.dataSet?.string('x00080102')).toBe('DCM');
  });

  test('writes a private sequence of undefined length as SQ, as dcmconv does, its items Explicit VR: readable back as DICOM JSON', () => {
    // As UN of undefined length (also PS3.5 6.2.2) dcmjs, and with it mipseg's own metadata, could not read it back.
    const items = Buffer.concat([itemOf(el(0x00091002, 'ABCD'), true), itemOf(el(0x00091003, 'EF'), false)]);
    const dataSet = Buffer.concat([el(0x00080016, '1.2.840.10008.5.1.4.1.1.128\0'), el(0x00080018, '2.25.77\0'), el(0x00090010, 'ACME 1.0'),
      sequence(0x00091010, [items], true), el(0x00100020, 'ID')]);
    const { bytes, dataSet: ds } = transcode(implicitFile(dataSet));
    expect(bytes.includes(Buffer.from([0x09, 0x00, 0x10, 0x10, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff]))).toBe(true); // (0009,1010) SQ
    const read = ds.elements['x00091010']?.items ?? [];
    expect(read.map((item) => item.dataSet?.string('x00091002') ?? item.dataSet?.string('x00091003'))).toEqual(['ABCD', 'EF']);
    const json = readDicomJson(bytes, null, false);
    expect(json['00091010']?.vr).toBe('SQ');
    expect(json['00100020']).toEqual({ vr: 'LO', Value: ['ID'] });
  });

  test('reads past an Item Delimitation Item that closes an item of defined length (a writer\'s quirk dcmconv accepts)', () => {
    const item = el(0xfffee000, Buffer.concat([el(0x00080102, 'DCM '), el(0xfffee00d, '')]));
    const dataSet = Buffer.concat([sequence(0x00540300, [item], false), el(0x00100020, 'ID')]);
    const { dataSet: ds } = transcode(implicitFile(dataSet));
    expect(ds.elements['x00540300']?.items?.[0]?.dataSet?.string('x00080102')).toBe('DCM');
    expect(ds.string('x00100020')).toBe('ID');
  });

  test('recomputes group lengths, and writes as UN a value too long for its VR\'s 16-bit length', () => {
    const comments = Buffer.alloc(70_000, 0x41);
    const group = Buffer.concat([el(0x00100020, 'ID'), el(0x00104000, comments)]);
    const dataSet = Buffer.concat([el(0x00100000, Buffer.from([0, 0, 0, 0])), group]);
    const { dataSet: ds } = transcode(implicitFile(dataSet));
    expect(ds.elements['x00104000']?.vr).toBe('UN');
    expect(valueOf(ds, 'x00104000').bytes.equals(comments)).toBe(true);
    expect(ds.uint32('x00100000')).toBe((8 + 2) + (12 + comments.length));
  });

  test('updates File Meta TransferSyntaxUID and group length only', () => {
    const file = implicitFile(el(0x00100020, 'ID'));
    const { bytes, dataSet: ds } = transcode(file);
    expect(bytes.subarray(0, 132)).toEqual(file.subarray(0, 132));
    expect(ds.string('x00020012')).toBe('1.2.3.4');
    expect(ds.string('x00020016')).toBe('SENDER');
    const metaEnd = (ds.elements['x00020016'] as dicomParser.Element).dataOffset + 6;
    expect(ds.uint32('x00020000')).toBe(metaEnd - 144);
    expect(bytes.subarray(metaEnd)).toEqual(Buffer.from([0x10, 0, 0x20, 0, 0x4c, 0x4f, 2, 0, 0x49, 0x44]));
  });

  test('sends a large value as a view of the stored file, not a copy', () => {
    const file = implicitFile(el(0x7fe00010, Buffer.alloc(1 << 17, 7)));
    const pieces = transcodeToExplicitVrLittleEndian(file);
    expect(pieces.some((p) => p.buffer === file.buffer && p.length === 1 << 17)).toBe(true);
  });

  test('refuses a truncated data set and one in another transfer syntax', () => {
    const whole = implicitFile(el(0x00100020, 'ID0123'));
    expect(errorCodeOf(() => transcodeToExplicitVrLittleEndian(whole.subarray(0, whole.length - 3)))).toBe('MIPSEG_DICOM_UNPARSEABLE');
    expect(errorCodeOf(() => transcodeToExplicitVrLittleEndian(implicitFile(el(0x00100020, 'ID'), EXPLICIT)))).toBe('MIPSEG_NOT_ACCEPTABLE');
    expect(errorCodeOf(() => transcodeToExplicitVrLittleEndian(Buffer.from('not DICOM')))).toBe('MIPSEG_DICOM_UNPARSEABLE');
  });
});

describe('dictionaryVr', () => {
  test.each([
    ['0008,0016', 'UI'], ['0028,0106', 'xs'], ['7FE0,0010', 'ox'], ['6000,3000', 'ox'], ['601E,0010', 'US'],
    ['0010,0000', 'UL'], ['0029,0010', 'LO'], ['0029,1010', 'UN'], ['0054,0016', 'SQ'], ['0008,FF01', 'UN'],
  ])('(%s) is %s', (tag, vr) => expect(dictionaryVr(parseInt(tag.replace(',', ''), 16))).toBe(vr));
});

/** The data set of a PS3.10 file: what follows the File Meta group (whose implementation fields differ by writer). */
function dataSetOf(file: Uint8Array): Buffer {
  const meta = dicomParser.parseDicom(file, { untilTag: 'x00020010' });
  const groupLength = meta.uint32('x00020000') ?? 0;
  const start = (meta.elements['x00020000']?.dataOffset ?? 0) + 4 + groupLength;
  return Buffer.from(file.buffer, file.byteOffset + start, file.byteLength - start);
}

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

describeWithSharedData(GE)('transcoding a real scanner file, against dcmtk', () => {
  let dir: string | undefined;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('gives the GE slice the same Explicit VR Little Endian data set, byte for byte, as dcmtk\'s dcmconv +te', () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-transcode-'));
    const source = join(sharedData(GE).path, '1-001.dcm');
    const byDcmtk = join(dir, 'dcmconv.dcm');
    const run = spawnSync('dcmconv', ['+te', '-e', source, byDcmtk], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const ours = Buffer.concat(transcodeToExplicitVrLittleEndian(readFileSync(source)));
    const expected = dataSetOf(readFileSync(byDcmtk));
    expect(expected.length).toBeGreaterThan(30_000); // the whole data set, 128×128 16-bit pixels included
    expect(dataSetOf(ours).equals(expected)).toBe(true);
  });
});
