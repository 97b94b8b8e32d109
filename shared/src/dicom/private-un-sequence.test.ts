import { errorCodeOf, syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { explicitElement, explicitItem, insertedBefore, SEQUENCE_END } from '../../../test/support/explicit-elements';
import { implicitElement, implicitHeader } from '../../../test/support/implicit-elements';
import { IMPLICIT_CODE_VALUE, implicitNestedSequences } from '../../../test/support/nested-sequences';
import { readDcmjsDataSet } from './dcmjs-read';
import { readDicomJson, type DicomJson } from './dicom-json';
import { parseInstanceHeader } from './parse-header';
import { MAX_SEQUENCE_DEPTH } from './sequence-depth';

/**
 * Explicit VR Little Endian files with a private sequence that an archive which did not know its tag re-encoded as UN
 * of undefined length: its items in Implicit VR Little Endian, ended by a Sequence Delimitation Item (PS3.5 6.2.2).
 */

const UNDEFINED_LENGTH = 0xffffffff;
const text = (value: string): Buffer => Buffer.from(value.length % 2 ? `${value} ` : value, 'latin1');
const PRIVATE_CREATOR = explicitElement(0x0009, 0x0010, 'LO', text('ACME 1.0'));

/** An Implicit VR item of undefined length, with its Item Delimitation Item. */
const implicitItem = (body: Buffer): Buffer =>
  Buffer.concat([implicitHeader(0xfffe, 0xe000, UNDEFINED_LENGTH), body, implicitHeader(0xfffe, 0xe00d, 0)]);

/** (0009,1001) as UN of undefined length holding `items` (whole, headers included) and a Sequence Delimitation Item. */
const unOfUndefinedLength = (...items: Buffer[]): Buffer =>
  explicitElement(0x0009, 0x1001, 'UN', Buffer.concat([...items, SEQUENCE_END]), true, UNDEFINED_LENGTH);

/**
 * Two items: one of undefined length with a standard code, its own private creator, a private value and a private
 * sequence of undefined length inside; one of defined length with a Coding Scheme Designator.
 */
const TWO_ITEMS = unOfUndefinedLength(
  implicitItem(Buffer.concat([
    implicitElement(0x0008, 0x0100, text('CODE1')),
    implicitElement(0x0009, 0x0010, text('ACME 1.0')),
    implicitElement(0x0009, 0x1002, text('ABCD')),
    implicitHeader(0x0009, 0x1003, UNDEFINED_LENGTH),
    implicitItem(implicitElement(0x0008, 0x0104, text('Inner meaning'))),
    implicitHeader(0xfffe, 0xe0dd, 0),
  ])),
  Buffer.concat([implicitHeader(0xfffe, 0xe000, 8 + 4), implicitElement(0x0008, 0x0102, text('DCM'))]),
);

/** A PET instance with `inserted` (group 0009) before its Patient's Name: Patient, Study, Series and Pixel Data follow. */
const petWith = (inserted: Buffer): Buffer =>
  insertedBefore(syntheticPetInstance({ sopInstanceUid: '2.25.6262.1' }), 0x0010, 0x0010, Buffer.concat([PRIVATE_CREATOR, inserted]));

const itemsOf = (json: DicomJson, tag: string): DicomJson[] => (json[tag]?.Value ?? []) as DicomJson[];

describe('readDicomJson of a private sequence sent as UN of undefined length (PS3.5 6.2.2)', () => {
  test('gives it as SQ with its Implicit VR items, a nested private sequence and private values included', () => {
    const json = readDicomJson(petWith(TWO_ITEMS), 16, false);
    expect(json['00090010']).toEqual({ vr: 'LO', Value: ['ACME 1.0'] });
    expect(json['00091001']?.vr).toBe('SQ');
    const [first, second] = itemsOf(json, '00091001');
    expect(first?.['00080100']).toEqual({ vr: 'SH', Value: ['CODE1'] });
    expect(first?.['00090010']).toEqual({ vr: 'LO', Value: ['ACME 1.0'] });
    // A private value carries no VR in Implicit VR: UN, inline as any binary value in an item.
    expect(first?.['00091002']).toEqual({ vr: 'UN', InlineBinary: Buffer.from('ABCD').toString('base64') });
    expect(first?.['00091003']?.vr).toBe('SQ');
    expect(itemsOf(first ?? {}, '00091003')[0]?.['00080104']).toEqual({ vr: 'LO', Value: ['Inner meaning'] });
    expect(second?.['00080102']).toEqual({ vr: 'SH', Value: ['DCM'] });
  });

  test('gives every attribute after it, and Pixel Data by reference', () => {
    const json = readDicomJson(petWith(TWO_ITEMS), 16, false);
    expect(json['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen' }] });
    expect(json['0020000D']).toEqual({ vr: 'UI', Value: ['2.25.2000.1'] });
    expect(json['0020000E']).toEqual({ vr: 'UI', Value: ['2.25.2000.2'] });
    expect(json['00280010']).toEqual({ vr: 'US', Value: [2] });
    expect(json['7FE00010']?.BulkDataURI).toMatch(/bulkdata\/7FE00010$/);
  });

  test('reads one inside an item of a standard sequence too', () => {
    const inItem = explicitElement(0x0008, 0x1115, 'SQ', Buffer.concat([explicitItem(Buffer.concat([PRIVATE_CREATOR, TWO_ITEMS]), true),
      SEQUENCE_END]), true, UNDEFINED_LENGTH);
    const json = readDicomJson(insertedBefore(syntheticPetInstance({ sopInstanceUid: '2.25.6262.2' }), 0x0010, 0x0010, inItem), 16, false);
    const referencedSeries = itemsOf(json, '00081115')[0] ?? {};
    expect(referencedSeries['00091001']?.vr).toBe('SQ');
    expect(itemsOf(referencedSeries, '00091001')[1]?.['00080102']).toEqual({ vr: 'SH', Value: ['DCM'] });
    expect(json['00100020']).toEqual({ vr: 'LO', Value: ['MIPSEG-TEST-1'] });
  });

  test('is stored with the same indexed attributes as the instance without it', () => {
    const plain = parseInstanceHeader(syntheticPetInstance({ sopInstanceUid: '2.25.6262.1' }));
    expect(parseInstanceHeader(petWith(TWO_ITEMS)).values).toEqual(plain.values);
  });
});

test('readDicomJson gives a private UN of defined length as UN inline, and the attributes after it', () => {
  const json = readDicomJson(petWith(explicitElement(0x0009, 0x1001, 'UN', Buffer.from([1, 2, 3, 4]), true)), 16, false);
  expect(json['00091001']).toEqual({ vr: 'UN', InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64') });
  expect(json['0020000D']).toEqual({ vr: 'UI', Value: ['2.25.2000.1'] });
});

describe('sequence nesting inside a private sequence sent as UN of undefined length', () => {
  /** The UN sequence as the outermost level, private Implicit VR sequences nested inside it to `depth` in all. */
  const nestedWithin = (depth: number): Buffer =>
    petWith(unOfUndefinedLength(implicitItem(implicitNestedSequences(depth - 1, IMPLICIT_CODE_VALUE, 'private'))));

  test('reads the innermost item of sequences nested as deep as the limit', () => {
    let item: DicomJson = readDicomJson(nestedWithin(MAX_SEQUENCE_DEPTH), 16, false);
    item = itemsOf(item, '00091001')[0] ?? {};
    for (let level = 1; level < MAX_SEQUENCE_DEPTH; level++) item = itemsOf(item, '00091010')[0] ?? {};
    expect(item['00080100']).toEqual({ vr: 'SH', Value: ['DEEP'] });
  });

  test('refuses sequences nested one level deeper than the limit, at ingest and on a metadata read', () => {
    const file = nestedWithin(MAX_SEQUENCE_DEPTH + 1);
    expect(errorCodeOf(() => parseInstanceHeader(file))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
    expect(errorCodeOf(() => readDcmjsDataSet(file))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  });
});
