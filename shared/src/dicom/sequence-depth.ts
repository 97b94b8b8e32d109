import * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';
import { implicitVr, parseErrorDetail } from './parse-options';

/**
 * How deep sequences may nest in a stored instance: a sequence in an item of a top-level sequence is 2 deep. Real data
 * sets stay far below it: an Enhanced multi-frame's functional groups are 2–3 deep (Per-frame Functional Groups >
 * a functional group > a code sequence), an SR's content tree ~10 (TID 1500 measurement groups, each content item's
 * Concept Name Code Sequence one more). dcmjs, which WADO-RS metadata is read with, scans every item of undefined
 * length to its end before it reads the item's elements, so one read costs about depth × bytes, on the thread that
 * serves every request; past ~1,300 levels it runs out of stack. 32 leaves real data sets thrice the room they use.
 */
export const MAX_SEQUENCE_DEPTH = 32;

interface PendingDataSet {
  readonly dataSet: dicomParser.DataSet;
  readonly depth: number;
}

/**
 * How deep sequences nest in a data set dicom-parser read (0: none). Walked with a list, not by recursion: the data
 * set may nest as deep as dicom-parser's own stack allowed. The private sequences whose items dicom-parser did not
 * keep (see droppedItems) are read again only while they lie within MAX_SEQUENCE_DEPTH, so that no byte is read
 * again more than that many times: past the limit the depth returned is a lower bound (at least MAX_SEQUENCE_DEPTH + 1).
 */
export function sequenceDepth(dataSet: dicomParser.DataSet): number {
  let deepest = 0;
  const pending: PendingDataSet[] = [{ dataSet, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const depth = next.depth + 1;
    for (const el of Object.values(next.dataSet.elements)) {
      // Item and delimiter tags are no attributes. In Implicit VR dicom-parser reads an item's Item Delimitation Item,
      // when a Sequence Delimitation Item follows it, as a sequence with no items: one level too many.
      if (el.tag.startsWith('xfffe')) continue;
      const dropped = !el.items && isSequenceWithoutItemsKept(next.dataSet, el);
      if (!el.items && !dropped) continue;
      deepest = Math.max(deepest, depth);
      const items = el.items ?? (depth <= MAX_SEQUENCE_DEPTH ? droppedItems(next.dataSet, el) : []);
      for (const item of items) if (item.dataSet) pending.push({ dataSet: item.dataSet, depth });
    }
  }
  return deepest;
}

/**
 * Whether dicom-parser read `el` as a sequence and then kept none of its items: it does so for a private sequence of
 * undefined length in Implicit VR (and in the Implicit VR items of a UN sequence), which dcmjs reads whole. Its
 * criterion: a private tag of undefined length whose VR is SQ, or unknown and its value begins with an item or a
 * Sequence Delimitation Item.
 */
function isSequenceWithoutItemsKept(dataSet: dicomParser.DataSet, el: dicomParser.Element): boolean {
  if (!el.hadUndefinedLength || el.tag === 'x7fe00010' || !dicomParser.isPrivateTag(el.tag)) return false;
  if (el.vr === 'SQ') return true;
  if (el.vr !== undefined || el.dataOffset + 4 > dataSet.byteArray.length) return false;
  const first = dicomParser.readTag(new dicomParser.ByteStream(dataSet.byteArrayParser, dataSet.byteArray, el.dataOffset));
  return first === 'xfffee000' || first === 'xfffee0dd';
}

/**
 * The items of a sequence dicom-parser kept none of, read again from its value (its length as dicom-parser set it:
 * up to its Sequence Delimitation Item) in Implicit VR, as it was read. Private sequences inside it are again read
 * without items, and are read again in their turn. dicom-parser reads by recursion: where that runs out of stack
 * (it read the same bytes before, so little else can fail) the instance is refused as unparseable.
 */
function droppedItems(dataSet: dicomParser.DataSet, el: dicomParser.Element): dicomParser.Element[] {
  const sequence: dicomParser.Element = { tag: el.tag, length: el.length, dataOffset: el.dataOffset, items: [] };
  try {
    const stream = new dicomParser.ByteStream(dataSet.byteArrayParser, dataSet.byteArray, el.dataOffset);
    // dicom-parser's types want a string; its code takes undefined as "look ahead", as every parse here gives it.
    dicomParser.readSequenceItemsImplicit(stream, sequence, implicitVr as (tag: string) => string);
  } catch (err) {
    // No cause: dicom-parser's error can hold the whole file's bytes.
    throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `private sequence ${el.tag}: ${parseErrorDetail(err)}`);
  }
  return sequence.items ?? [];
}

/** Throws MIPSEG_DICOM_SEQUENCES_TOO_DEEP where sequences nest deeper than MAX_SEQUENCE_DEPTH. */
export function assertSequenceDepthWithin(dataSet: dicomParser.DataSet): void {
  const depth = sequenceDepth(dataSet);
  if (depth > MAX_SEQUENCE_DEPTH) {
    // Within a C-STORE ErrorComment's 64 characters, with the catalogue's words before it.
    throw new MipsegError('MIPSEG_DICOM_SEQUENCES_TOO_DEEP', `${depth} levels, at most ${MAX_SEQUENCE_DEPTH}`);
  }
}
