/** An Implicit VR Little Endian element, whole (tag, 32-bit length, value), for tests that build data sets no writer here makes. */
export function implicitElement(group: number, element: number, value: Buffer): Buffer {
  return Buffer.concat([implicitHeader(group, element, value.length), value]);
}

/** An Implicit VR Little Endian tag and 32-bit length alone: an item's or a delimiter's, or an undefined length's (0xffffffff). */
export function implicitHeader(group: number, element: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(element, 2);
  header.writeUInt32LE(length, 4);
  return header;
}
