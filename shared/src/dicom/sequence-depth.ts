import type * as dicomParser from 'dicom-parser';
import { MipsegError } from '../errors';

/**
 * How deep sequences may nest in a stored instance: a sequence in an item of a top-level sequence is 2 deep. Real data
 * sets stay far below it: an Enhanced multi-frame's functional groups are 2–3 deep (Per-frame Functional Groups >
 * a functional group > a code sequence), an SR's content tree ~10 (TID 1500 measurement groups, each content item's
 * Concept Name Code Sequence one more). dcmjs, which WADO-RS metadata is read with, scans every item of undefined
 * length to its end before it reads the item's elements, so one read costs about depth × bytes, on the thread that
 * serves every request; past ~1,300 levels it runs out of stack. 32 leaves real data sets thrice the room they use.
 */
export const MAX_SEQUENCE_DEPTH = 32;

/**
 * How deep sequences nest in a data set dicom-parser read (0: none). Walked with a list, not by recursion: the data
 * set may nest as deep as dicom-parser's own stack allowed.
 */
export function sequenceDepth(dataSet: dicomParser.DataSet): number {
  let deepest = 0;
  const pending: Array<{ dataSet: dicomParser.DataSet; depth: number }> = [{ dataSet, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const el of Object.values(next.dataSet.elements)) {
      if (!el.items) continue;
      deepest = Math.max(deepest, next.depth + 1);
      for (const item of el.items) if (item.dataSet) pending.push({ dataSet: item.dataSet, depth: next.depth + 1 });
    }
  }
  return deepest;
}

/** Throws MIPSEG_DICOM_SEQUENCES_TOO_DEEP where sequences nest deeper than MAX_SEQUENCE_DEPTH. */
export function assertSequenceDepthWithin(dataSet: dicomParser.DataSet): void {
  const depth = sequenceDepth(dataSet);
  if (depth > MAX_SEQUENCE_DEPTH) {
    // Within a C-STORE ErrorComment's 64 characters, with the catalogue's words before it.
    throw new MipsegError('MIPSEG_DICOM_SEQUENCES_TOO_DEEP', `${depth} levels, at most ${MAX_SEQUENCE_DEPTH}`);
  }
}
