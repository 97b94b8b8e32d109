import { MipsegError } from '../errors';
import { dictionaryVrTable, implicitVr } from './parse-options';

/**
 * A data element read from an Implicit VR Little Endian data set. Its VR comes from the data dictionary
 * (PS3.5 7.1.3), kept in dcmjs's notation where the dictionary gives a choice ('xs' US or SS, 'ox' OB or OW,
 * 'lt' US or OW, 'up' a UL offset) since the choice depends on other elements (see explicit-vr-little-endian.ts).
 */
export interface DataElement {
  /** (group << 16 | element), unsigned. */
  readonly tag: number;
  readonly vr: string;
  /** The value's bytes as stored; for an undefined-length UN, its items up to the Sequence Delimitation Item. */
  readonly value: Uint8Array;
  /** The items of a sequence the dictionary names SQ. */
  readonly items?: readonly Item[];
  readonly undefinedLength: boolean;
}

export interface Item {
  readonly elements: readonly DataElement[];
  readonly undefinedLength: boolean;
}

export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION_ITEM = 0xfffee00d;
export const SEQUENCE_DELIMITATION_ITEM = 0xfffee0dd;
export const UNDEFINED_LENGTH = 0xffffffff;

/** The dictionary entries with a choice of VR, which parse-options' table of fixed VRs leaves out. */
const AMBIGUOUS_VRS = dictionaryVrTable((vr) => ['xs', 'ox', 'lt', 'up'].includes(vr));

/** The group under which the dictionary lists a repeating group: 50xx curves, 60xx overlays, 7Fxx pixel data. */
function dictionaryGroup(group: number): number {
  if ((group & 0xff01) === 0x5000 || (group & 0xff01) === 0x6000) return group & 0xff00;
  if ((group & 0xff01) === 0x7f00 && group !== 0x7fe0) return 0x7f00;
  return group;
}

/**
 * The VR of an Implicit VR element. Group lengths are UL and private creators LO (PS3.5 7.2, 7.8.1); other
 * private elements, and standard ones this dictionary lacks, are UN (PS3.5 6.2.2).
 */
export function dictionaryVr(tag: number): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0x0000) return 'UL';
  if (group % 2 === 1 && group > 0x0008 && group !== 0xffff) return element >= 0x0010 && element <= 0x00ff ? 'LO' : 'UN';
  const key = `x${dictionaryGroup(group).toString(16).padStart(4, '0')}${element.toString(16).padStart(4, '0')}`;
  return implicitVr(key) ?? AMBIGUOUS_VRS.get(key) ?? 'UN';
}

/** dcmjs's lower-case VRs for a choice ('xs': US or SS, 'ox': OB or OW), as written for a value that is not there. */
const WRITTEN_FOR_CHOICE: Readonly<Record<string, string>> = { xs: 'US', ox: 'OB', lt: 'OW' };

/**
 * The VR to give an attribute returned without a value (a QIDO includefield the instance lacks), by its tag in 8 hex
 * digits: dictionaryVr's, the first choice where the dictionary offers one, UN where it has none.
 */
export function emptyAttributeVr(tag: string): string {
  const vr = dictionaryVr(Number.parseInt(tag, 16));
  return WRITTEN_FOR_CHOICE[vr] ?? (/^[A-Z]{2}$/.test(vr) ? vr : 'UN');
}

function unparseable(detail: string, at: number): MipsegError {
  return new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `Implicit VR data set: ${detail} at byte ${at}`);
}

/** Reads the element structure of an Implicit VR Little Endian data set, keeping every value's bytes as stored. */
class ImplicitReader {
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Elements from `at` to `end`, or, in an item of undefined length, to its Item Delimitation Item. */
  elements(at: number, end: number, delimited: boolean): { elements: DataElement[]; next: number } {
    const elements: DataElement[] = [];
    while (at < end) {
      const { tag } = this.header(at);
      if (delimited && tag === ITEM_DELIMITATION_ITEM) return { elements, next: at + 8 };
      // An Item Delimitation Item closing an item of defined length: a writer's quirk that dcmtk and dcmjs read past.
      if (!delimited && tag === ITEM_DELIMITATION_ITEM && this.header(at).length === 0) {
        at += 8;
        continue;
      }
      if (tag >>> 16 === 0xfffe) throw unparseable(`unexpected (FFFE,${(tag & 0xffff).toString(16).toUpperCase()})`, at);
      const read = this.element(at);
      elements.push(read.element);
      at = read.next;
    }
    if (delimited || at > end) throw unparseable('truncated', at);
    return { elements, next: at };
  }

  private header(at: number): { tag: number; length: number } {
    if (at + 8 > this.bytes.length) throw unparseable('truncated element header', at);
    const tag = ((this.view.getUint16(at, true) << 16) | this.view.getUint16(at + 2, true)) >>> 0;
    return { tag, length: this.view.getUint32(at + 4, true) };
  }

  /**
   * One element. An undefined length is a sequence in Implicit VR (PS3.5 7.5.1), whatever the dictionary says (a
   * private one it does not know): written as SQ, as dcmconv writes it. As UN with undefined length, which PS3.5 6.2.2
   * also allows, dcmjs-based clients (and mipseg's own DICOM JSON reader) could not read it back.
   */
  private element(at: number): { element: DataElement; next: number } {
    const { tag, length } = this.header(at);
    const start = at + 8;
    const vr = dictionaryVr(tag);
    if (length === UNDEFINED_LENGTH) {
      const { items, next } = this.items(start, undefined);
      return { element: { tag, vr: 'SQ', value: this.bytes.subarray(start, start), items, undefinedLength: true }, next };
    }
    const end = start + length;
    if (end > this.bytes.length) throw unparseable(`value of ${length} bytes runs past the end`, at);
    const value = this.bytes.subarray(start, end);
    if (vr !== 'SQ') return { element: { tag, vr, value, undefinedLength: false }, next: end };
    return { element: { tag, vr, value, items: this.items(start, end).items, undefinedLength: false }, next: end };
  }

  /** Items from `at` to `end`, or, where `end` is undefined, to the Sequence Delimitation Item. */
  private items(at: number, end: number | undefined): { items: Item[]; next: number } {
    const items: Item[] = [];
    while (end === undefined || at < end) {
      const { tag, length } = this.header(at);
      if (end === undefined && tag === SEQUENCE_DELIMITATION_ITEM) return { items, next: at + 8 };
      if (tag !== ITEM) throw unparseable(`expected an item, found (${(tag >>> 16).toString(16)},${(tag & 0xffff).toString(16)})`, at);
      if (length === UNDEFINED_LENGTH) {
        const read = this.elements(at + 8, this.bytes.length, true);
        items.push({ elements: read.elements, undefinedLength: true });
        at = read.next;
      } else {
        const itemEnd = at + 8 + length;
        if (itemEnd > (end ?? this.bytes.length)) throw unparseable(`item of ${length} bytes runs past its sequence`, at);
        items.push({ elements: this.elements(at + 8, itemEnd, false).elements, undefinedLength: false });
        at = itemEnd;
      }
    }
    return { items, next: at };
  }
}

/** The elements of an Implicit VR Little Endian data set (the bytes after the File Meta Information). */
export function readImplicitDataSet(bytes: Uint8Array): readonly DataElement[] {
  return new ImplicitReader(bytes).elements(0, bytes.length, false).elements;
}
