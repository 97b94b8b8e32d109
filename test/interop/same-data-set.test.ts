import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFileMetaInformation, sameDataSet } from '@mipseg/shared/dicom';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';

/** Runs a dcmtk tool over files in `dir`; throws with its output when it fails. */
function dcmtk(dir: string, tool: string, args: string[]): void {
  const run = spawnSync(tool, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw new Error(`${tool} cannot run (apt-get install dcmtk): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${run.status}: ${run.stdout}${run.stderr}`);
}

/**
 * The same instance, re-encoded by dcmtk as another sender would send it, is the same data set; a change to any
 * value, item or stored pixel value is not. The original is written by dcmjs (Explicit VR LE), so two writers meet here.
 */
describe('sameDataSet tells a re-encoded copy of an instance from a changed one', () => {
  let dir: string;
  const file = (name: string) => readFileSync(join(dir, name));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-same-'));
    writeFileSync(join(dir, 'original.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.8801', imagePositionPatient: [0, 0, 0],
      stored: [5, 900, 30000, -7] }));
    dcmtk(dir, 'dcmconv', ['+ti', 'original.dcm', 'implicit.dcm']);
    dcmtk(dir, 'dcmconv', ['+te', '-e', 'original.dcm', 'undefined-lengths.dcm']);
    dcmtk(dir, 'dcmconv', ['+te', '+e', '+g', 'original.dcm', 'group-lengths.dcm']);
    copyFileSync(join(dir, 'original.dcm'), join(dir, 'renamed.dcm'));
    dcmtk(dir, 'dcmodify', ['-nb', '-m', 'PatientName=Other^Patient', 'renamed.dcm']);
    copyFileSync(join(dir, 'original.dcm'), join(dir, 'other-dose.dcm'));
    dcmtk(dir, 'dcmodify', ['-nb', '-m', '(0054,0016)[0].(0018,1074)=360000000', 'other-dose.dcm']);
    dcmtk(dir, 'dcmcjpeg', ['original.dcm', 'jpeg.dcm']);
    dcmtk(dir, 'dcmconv', ['-e', 'jpeg.dcm', 'jpeg-undefined-lengths.dcm']);
    writeFileSync(join(dir, 'other-pixels.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.8801', imagePositionPatient: [0, 0, 0],
      stored: [5, 900, 30000, -8] }));
    dcmtk(dir, 'dcmcjpeg', ['other-pixels.dcm', 'jpeg-other.dcm']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['implicit.dcm', 'undefined-lengths.dcm', 'group-lengths.dcm'])('the original and %s (new File Meta, other encoding) hold the same data set', (name) => {
    expect(file(name).equals(file('original.dcm'))).toBe(false);
    expect(sameDataSet(file('original.dcm'), file(name))).toBe(true);
    expect(sameDataSet(file(name), file('original.dcm'))).toBe(true);
  });

  test('JPEG Lossless copies whose sequences are encoded differently hold the same data set', () => {
    expect(sameDataSet(file('jpeg.dcm'), file('jpeg-undefined-lengths.dcm'))).toBe(true);
  });

  test('the original and its JPEG Lossless copy (the same stored values) hold the same data set', () => {
    expect(sameDataSet(file('original.dcm'), file('jpeg.dcm'))).toBe(true);
    expect(sameDataSet(file('jpeg-undefined-lengths.dcm'), file('original.dcm'))).toBe(true);
  });

  test.each([
    ['renamed.dcm', 'a value changed (PatientName)'],
    ['other-dose.dcm', 'a value inside a sequence item changed'],
    ['jpeg-other.dcm', 'a JPEG Lossless copy of other stored values'],
  ])('the original and %s do not: %s', (name) => {
    expect(sameDataSet(file('original.dcm'), file(name))).toBe(false);
  });

  test('compressed copies of different pixels (different fragments) do not', () => {
    expect(sameDataSet(file('jpeg.dcm'), file('jpeg-other.dcm'))).toBe(false);
  });

  test('a file that cannot be parsed is never the same', () => {
    expect(sameDataSet(file('original.dcm'), Buffer.from('not DICOM at all'))).toBe(false);
  });
});

/** An Explicit VR Little Endian element: tag, VR, and the value (lengths in the short or long form as the VR wants). */
function explicitElement(group: number, element: number, vr: string, value: Buffer): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

function privateInstance(element: Buffer): Buffer {
  const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.128', mediaStorageSopInstanceUid: '2.25.8802',
    transferSyntaxUid: '1.2.840.10008.1.2.1' });
  return Buffer.concat([meta, explicitElement(0x0008, 0x0018, 'UI', Buffer.from('2.25.8802\0', 'latin1')),
    explicitElement(0x0009, 0x0010, 'LO', Buffer.from('MIPSEG T')), element]);
}

describe('sameDataSet on hand-built edge cases', () => {
  test('an empty sequence is not the same as a value of the same tag with content', () => {
    const emptySequence = privateInstance(explicitElement(0x0009, 0x1001, 'SQ', Buffer.alloc(0)));
    const bytes = privateInstance(explicitElement(0x0009, 0x1001, 'OB', Buffer.from('0123456789abcdef')));
    const emptyBytes = privateInstance(explicitElement(0x0009, 0x1001, 'OB', Buffer.alloc(0)));
    expect(sameDataSet(emptySequence, bytes)).toBe(false);
    expect(sameDataSet(bytes, emptySequence)).toBe(false);
    expect(sameDataSet(emptySequence, emptyBytes)).toBe(true);
  });

  test('text values differing only in trailing padding are the same; any other difference is not', () => {
    const padded = privateInstance(explicitElement(0x0008, 0x103e, 'LO', Buffer.from('WB PET  ')));
    const trimmed = privateInstance(explicitElement(0x0008, 0x103e, 'LO', Buffer.from('WB PET')));
    const other = privateInstance(explicitElement(0x0008, 0x103e, 'LO', Buffer.from(' WB PET ')));
    expect(sameDataSet(padded, trimmed)).toBe(true);
    expect(sameDataSet(padded, other)).toBe(false);
  });
});

const SAMPLE = 'data/pet-dicom/singles/dicomweb-client-sample.dcm';
describeWithSharedData(SAMPLE)('sameDataSet on a real file dcmtk re-encodes (it trims trailing spaces)', () => {
  test.each([['+ti'], ['+te']])('the file and dcmconv %s of it hold the same data set', (option) => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-same-real-'));
    try {
      dcmtk(dir, 'dcmconv', [option, sharedData(SAMPLE).path, 'converted.dcm']);
      expect(sameDataSet(readFileSync(sharedData(SAMPLE).path), readFileSync(join(dir, 'converted.dcm')))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
