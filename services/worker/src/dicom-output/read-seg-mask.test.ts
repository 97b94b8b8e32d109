import { packBits } from './pack-bits';
import { writePart10 } from './part10';
import { readSegMask } from './read-seg-mask';
import { writeMipInstance } from './write-mip-instance';
import { writeSegInstance } from './write-seg-instance';
import {
  ALGORITHM, EQUIPMENT, errorCodeOf, readNatural, syntheticMip, syntheticSource,
} from '../../../../test/pipeline/dicom-output/synthetic-source';

describe('readSegMask', () => {
  const mip = syntheticMip(5, 3);
  const source = syntheticSource();
  const mipOut = writeMipInstance(mip, source, { equipment: EQUIPMENT });
  const oneFrame = Uint8Array.from({ length: 15 }, (_, i) => (i === 0 || i === 14 ? 1 : 0));
  const segOut = writeSegInstance(oneFrame, { ...mipOut, geometry: mip }, source, { equipment: EQUIPMENT, algorithm: ALGORITHM });

  test('combines several frames (15 pixels each, so frame 2 starts inside a byte) into their union', () => {
    const ds = readNatural(segOut.bytes);
    const second = Uint8Array.from({ length: 15 }, (_, i) => (i === 7 ? 1 : 0));
    const packed = packBits(Uint8Array.from([...oneFrame, ...second]));
    ds['NumberOfFrames'] = 2;
    ds['PixelData'] = [packed.buffer.slice(0, packed.length + (packed.length % 2))];
    ds['_vrMap'] = { PixelData: 'OB' };
    const back = readSegMask(writePart10(ds));
    expect([...back.mask].flatMap((v, i) => (v ? [i] : []))).toEqual([0, 7, 14]);
  });

  test('refuses a mask of more pixels than the caller bounds it to (the worklist overlay), before reading it', () => {
    const ds = readNatural(segOut.bytes);
    ds['Rows'] = 3000;
    ds['Columns'] = 3000;
    ds['PixelData'] = [new ArrayBuffer((3000 * 3000) / 8)];
    ds['_vrMap'] = { PixelData: 'OB' };
    const big = writePart10(ds);
    expect(errorCodeOf(() => readSegMask(big, 4 * 1024 * 1024))).toBe('MIPSEG_SEG_UNSUPPORTED');
    expect(readSegMask(big).mask).toHaveLength(3000 * 3000);
  });

  test('counts every frame against that bound: 8 frames of 1024 × 1024 are 8 M pixels to unpack', () => {
    const ds = readNatural(segOut.bytes);
    ds['Rows'] = 1024;
    ds['Columns'] = 1024;
    ds['NumberOfFrames'] = 8;
    ds['PixelData'] = [new ArrayBuffer((1024 * 1024 * 8) / 8)];
    ds['_vrMap'] = { PixelData: 'OB' };
    const frames = writePart10(ds);
    expect(errorCodeOf(() => readSegMask(frames, 4 * 1024 * 1024))).toBe('MIPSEG_SEG_UNSUPPORTED');
    expect(readSegMask(frames, 8 * 1024 * 1024).mask).toHaveLength(1024 * 1024);
  });

  test('refuses an instance that is not a SEG with MIPSEG_SEG_UNSUPPORTED', () => {
    expect(errorCodeOf(() => readSegMask(mipOut.bytes))).toBe('MIPSEG_SEG_UNSUPPORTED');
  });

  test('refuses a FRACTIONAL segmentation with MIPSEG_SEG_UNSUPPORTED', () => {
    const ds = readNatural(segOut.bytes);
    ds['SegmentationType'] = 'FRACTIONAL';
    expect(errorCodeOf(() => readSegMask(writePart10(ds)))).toBe('MIPSEG_SEG_UNSUPPORTED');
  });

  test('refuses a file that is not DICOM with MIPSEG_DICOM_UNPARSEABLE', () => {
    expect(errorCodeOf(() => readSegMask(Buffer.alloc(200)))).toBe('MIPSEG_DICOM_UNPARSEABLE');
  });
});
