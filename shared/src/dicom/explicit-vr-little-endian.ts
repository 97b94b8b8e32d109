import {
  ITEM,
  ITEM_DELIMITATION_ITEM,
  SEQUENCE_DELIMITATION_ITEM,
  UNDEFINED_LENGTH,
  type DataElement,
  type Item,
} from './implicit-data-set';

/** Encoded bytes as a list of pieces: values are views of the stored file, not copies. */
export interface Encoded {
  readonly chunks: readonly Uint8Array[];
  readonly length: number;
}

/** VRs whose Explicit VR header has a reserved field and a 32-bit length (PS3.5 Table 7.1-1). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

const PIXEL_REPRESENTATION = 0x00280103;

function join(parts: readonly Encoded[]): Encoded {
  return { chunks: parts.flatMap((p) => p.chunks), length: parts.reduce((n, p) => n + p.length, 0) };
}

function bytes(...chunks: Uint8Array[]): Encoded {
  return { chunks, length: chunks.reduce((n, c) => n + c.length, 0) };
}

function elementHeader(tag: number, vr: string, length: number): Buffer {
  const long = LONG_LENGTH_VRS.has(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length, 8);
  else header.writeUInt16LE(length, 6);
  return header;
}

/** One element in Explicit VR Little Endian: its header (PS3.5 7.1.2) and `value`, already padded to even length. */
export function explicitElement(tag: number, vr: string, value: Uint8Array): Buffer {
  return Buffer.concat([elementHeader(tag, vr, value.length), value]);
}

/** An item or delimitation tag with its 32-bit length: the same bytes in Implicit and Explicit VR. */
function itemHeader(tag: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(length, 4);
  return header;
}

/**
 * The VR to write for a dictionary VR. PS3.5 Annex A.1 has Implicit VR Pixel Data (and the other OB-or-OW
 * values, overlays and waveforms) as OW; US-or-SS values follow Pixel Representation, of the same data set or
 * the nearest enclosing one. A value too long for a 16-bit length field can only be written as UN (PS3.5 6.2.2).
 */
function explicitVr(vr: string, length: number, pixelRepresentation: number | undefined): string {
  const resolved = vr === 'xs' ? (pixelRepresentation === 1 ? 'SS' : 'US') : vr === 'ox' || vr === 'lt' ? 'OW' : vr === 'up' ? 'UL' : vr;
  return !LONG_LENGTH_VRS.has(resolved) && length > 0xffff ? 'UN' : resolved;
}

function encodeItem(item: Item, pixelRepresentation: number | undefined): Encoded {
  const dataSet = encodeDataSet(item.elements, pixelRepresentation);
  if (!item.undefinedLength) return join([bytes(itemHeader(ITEM, dataSet.length)), dataSet]);
  return join([bytes(itemHeader(ITEM, UNDEFINED_LENGTH)), dataSet, bytes(itemHeader(ITEM_DELIMITATION_ITEM, 0))]);
}

/** A sequence keeps its form: undefined length stays undefined; a defined length is recomputed for the new encoding. */
function encodeSequence(element: DataElement, items: readonly Item[], pixelRepresentation: number | undefined): Encoded {
  const content = join(items.map((item) => encodeItem(item, pixelRepresentation)));
  if (!element.undefinedLength) return join([bytes(elementHeader(element.tag, 'SQ', content.length)), content]);
  return join([bytes(elementHeader(element.tag, 'SQ', UNDEFINED_LENGTH)), content, bytes(itemHeader(SEQUENCE_DELIMITATION_ITEM, 0))]);
}

function encodeElement(element: DataElement, pixelRepresentation: number | undefined): Encoded {
  if (element.items) return encodeSequence(element, element.items, pixelRepresentation);
  const vr = explicitVr(element.vr, element.value.length, pixelRepresentation);
  return bytes(elementHeader(element.tag, vr, element.value.length), element.value);
}

function ownPixelRepresentation(elements: readonly DataElement[]): number | undefined {
  const value = elements.find((e) => e.tag === PIXEL_REPRESENTATION)?.value;
  return value && value.length >= 2 ? (value[0] as number) | ((value[1] as number) << 8) : undefined;
}

/** A group length (gggg,0000) counts the bytes of its group's elements after it, which the new encoding changes. */
function groupLength(tag: number, value: number): Encoded {
  const bytesOfValue = Buffer.alloc(4);
  bytesOfValue.writeUInt32LE(value, 0);
  return bytes(elementHeader(tag, 'UL', 4), bytesOfValue);
}

/** A data set in Explicit VR Little Endian, every value's bytes as read. */
export function encodeDataSet(elements: readonly DataElement[], inheritedPixelRepresentation?: number): Encoded {
  const pixelRepresentation = ownPixelRepresentation(elements) ?? inheritedPixelRepresentation;
  const encoded = elements.map((e) => encodeElement(e, pixelRepresentation));
  elements.forEach((e, i) => {
    if ((e.tag & 0xffff) !== 0) return;
    const group = e.tag >>> 16;
    const rest = elements.reduce((n, f, j) => (j > i && f.tag >>> 16 === group ? n + (encoded[j] as Encoded).length : n), 0);
    encoded[i] = groupLength(e.tag, rest);
  });
  return join(encoded);
}
