import { MipsegError } from '../errors';

/**
 * Packs 0/1 values into bits, least significant bit first, with no padding between frames (PS3.5 8.1.1:
 * BitsAllocated 1 frames follow one another bit by bit, so a frame of Rows × Columns not divisible by 8 starts
 * inside a byte). Pass all frames concatenated; the result has ceil(n / 8) bytes, unused bits 0.
 */
export function packBits(values: Uint8Array): Uint8Array {
  const packed = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v > 1) throw new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID', `mask value ${v} at ${i} is not 0 or 1`);
    if (v === 1) packed[i >> 3] = (packed[i >> 3] as number) | (1 << (i & 7));
  }
  return packed;
}

/** Unpacks `count` bits starting at bit `bitOffset` (frame k of a SEG starts at bit k × Rows × Columns). */
export function unpackBits(packed: Uint8Array, count: number, bitOffset = 0): Uint8Array {
  if (Math.ceil((bitOffset + count) / 8) > packed.length) {
    throw new RangeError(`${count} bits from bit ${bitOffset} need more than ${packed.length} bytes`);
  }
  const values = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bit = bitOffset + i;
    values[i] = ((packed[bit >> 3] as number) >> (bit & 7)) & 1;
  }
  return values;
}
