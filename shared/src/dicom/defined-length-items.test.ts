import * as dicomParser from 'dicom-parser';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { explicitElement } from '../../../test/support/explicit-elements';
import { withNestedSequences } from '../../../test/support/nested-sequences';
import { readDcmjsDataSet } from './dcmjs-read';
import { withDefinedLengthItems } from './defined-length-items';
import { readDicomJson } from './dicom-json';
import { parseStoredDicom } from './parse-options';

const ITEM_DELIMITATION = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);

/** A private block: creator, an OB value, and an LO after it that tells whether the OB was read by its length. */
function privateBlock(value: Buffer): Buffer {
  return Buffer.concat([
    explicitElement(0x0009, 0x0010, 'LO', Buffer.from('XYZCORP ', 'latin1')),
    explicitElement(0x0009, 0x1010, 'OB', value, true),
    explicitElement(0x0009, 0x1011, 'LO', Buffer.from('AFTER ', 'latin1')),
  ]);
}

function petWith(depth: number, innermost: Buffer, undefinedLength = true): Buffer {
  return withNestedSequences(syntheticPetInstance({ sopInstanceUid: '2.25.5154.1' }), depth, innermost, undefinedLength);
}

function innermostOf(json: Record<string, unknown>, depth: number): Record<string, { Value?: unknown[] }> {
  let item = json;
  for (let level = 0; level < depth; level++) item = ((item['00081115'] as { Value: unknown[] }).Value[0]) as Record<string, unknown>;
  return item as Record<string, { Value?: unknown[] }>;
}

describe('withDefinedLengthItems', () => {
  test('writes every item of undefined length with its length, the data set otherwise the same', () => {
    const file = petWith(5, privateBlock(Buffer.alloc(100, 0x41)));
    const defined = dicomParser.parseDicom(withDefinedLengthItems(file, parseStoredDicom(file, 'x7fe00010')), { untilTag: 'x7fe00010' });
    const items = (ds: dicomParser.DataSet): dicomParser.Element[] =>
      Object.values(ds.elements).flatMap((el) => (el.items ?? []).flatMap((item) => [item, ...(item.dataSet ? items(item.dataSet) : [])]));
    expect(items(defined).length).toBeGreaterThanOrEqual(5);
    expect(items(defined).filter((item) => item.hadUndefinedLength)).toEqual([]);
    expect(innermostDataSet(defined, 5)?.string('x00091011')).toBe('AFTER');
    expect(defined.string('x00080018')).toBe('2.25.5154.1');
  });
});

function innermostDataSet(ds: dicomParser.DataSet | undefined, depth: number): dicomParser.DataSet | undefined {
  for (let level = 0; level < depth; level++) ds = ds?.elements['x00081115']?.items?.[0]?.dataSet;
  return ds;
}

describe('metadata of items of undefined length', () => {
  // dcmjs ended the item at those 8 bytes and read the rest as elements (stored 200, metadata 400 "Start 28 out of range").
  test('reads a private OB value holding the bytes of an Item Delimitation Item by its length', () => {
    const value = Buffer.concat([Buffer.alloc(20, 0x41), ITEM_DELIMITATION, Buffer.alloc(20, 0x42)]);
    const item = innermostOf(readDicomJson(petWith(1, privateBlock(value)), 16, false), 1);
    expect(item['00091011']?.Value).toEqual(['AFTER']);
  });

  // Counted, not timed: dcmjs found each undefined-length item's end by reading it 2 bytes at a time (DataView.getUint16),
  // so 8 items around a 64 KiB value took 8 × 32,768 reads.
  test('reads items nested around a large value without scanning the value once per item', () => {
    const file = petWith(8, privateBlock(Buffer.alloc(64 * 1024, 0x41)));
    const reads = jest.spyOn(DataView.prototype, 'getUint16');
    try {
      const dict = readDcmjsDataSet(file).dict;
      expect(reads.mock.calls.length).toBeLessThan(32 * 1024);
      expect(dict['00080018']?.Value).toEqual(['2.25.5154.1']);
    } finally {
      reads.mockRestore();
    }
  });

  test('reads nested items of undefined length as their twins of defined length', () => {
    const inner = privateBlock(Buffer.alloc(10, 0x41));
    expect(readDicomJson(petWith(6, inner), 16, false)).toEqual(readDicomJson(petWith(6, inner, false), 16, false));
  });
});
