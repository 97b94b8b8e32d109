import type * as dicomParser from 'dicom-parser';

const ITEM_DELIMITATION = 8;
const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

/** A sequence item of undefined length: where its length field and its Item Delimitation Item stand. */
interface UndefinedLengthItem {
  readonly lengthAt: number;
  readonly contentStart: number;
  readonly delimiterAt: number;
}

/** Every sequence item of undefined length dicom-parser read that ends with its delimiter before `end`. */
function undefinedLengthItems(dataSet: dicomParser.DataSet, end: number): UndefinedLengthItem[] {
  const found: UndefinedLengthItem[] = [];
  // A list, not recursion: sequences may nest as deep as dicom-parser's stack allowed.
  const pending = [dataSet];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const el of Object.values(next.elements)) {
      for (const item of el.items ?? []) {
        if (!item.dataSet) continue;
        pending.push(item.dataSet);
        const delimiterAt = item.dataOffset + item.length - ITEM_DELIMITATION;
        // dicom-parser counts the delimiter in the item's length; an item that ran to the end of the bytes has none.
        if (item.hadUndefinedLength && item.dataSet.elements['xfffee00d'] !== undefined && delimiterAt + ITEM_DELIMITATION <= end) {
          found.push({ lengthAt: item.dataOffset - 4, contentStart: item.dataOffset, delimiterAt });
        }
      }
    }
  }
  return found;
}

/** How many of the sorted `positions` are below `limit`. */
function countBelow(positions: readonly number[], limit: number): number {
  let low = 0;
  let high = positions.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((positions[mid] as number) < limit) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * `bytes` (a PS3.10 file up to Pixel Data, as `parsed` read it) with every sequence item of undefined length written
 * with its length, its Item Delimitation Item left out: the same data set (PS3.5 7.5.1 allows either).
 *
 * dcmjs 0.51 finds where an item of undefined length ends by reading it 2 bytes at a time, then reads its elements,
 * so every item scans all the items inside it again: depth × bytes, on the thread that serves every request (a
 * 16 MB value 32 items deep, some 20 s). It also takes the first 8 bytes FE FF 0D E0 00 00 00 00 for the item's end,
 * even inside a value (a private OB), and reads the rest wrongly. An item of defined length it takes whole. The
 * lengths come from dicom-parser, which reads values by their lengths.
 */
export function withDefinedLengthItems(bytes: Uint8Array, parsed: dicomParser.DataSet): Uint8Array {
  const items = undefinedLengthItems(parsed, bytes.length);
  if (items.length === 0) return bytes;
  const delimiters = items.map((item) => item.delimiterAt).sort((a, b) => a - b);
  const removedBefore = (at: number): number => countBelow(delimiters, at) * ITEM_DELIMITATION;
  const out = new Uint8Array(bytes.length - delimiters.length * ITEM_DELIMITATION);
  let from = 0;
  for (const at of delimiters) {
    out.set(bytes.subarray(from, at), from - removedBefore(from));
    from = at + ITEM_DELIMITATION;
  }
  out.set(bytes.subarray(from), from - removedBefore(from));
  const littleEndian = (parsed.string('x00020010') ?? '').replace(/\0/g, '').trim() !== EXPLICIT_VR_BIG_ENDIAN;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const item of items) {
    const length = item.delimiterAt - item.contentStart - (removedBefore(item.delimiterAt) - removedBefore(item.contentStart));
    view.setUint32(item.lengthAt - removedBefore(item.lengthAt), length, littleEndian);
  }
  return out;
}
