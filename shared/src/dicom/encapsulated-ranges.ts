import { MipsegError } from '../errors';
import { parseStoredDicom } from './parse-options';

/** A file open for reads at offsets (the archive's RangedBlob). */
export interface RangeReader {
  read(start: number, length: number): Promise<Buffer>;
}

const ITEM = 0xfffee000;
const SEQUENCE_DELIMITATION = 0xfffee0dd;

/** One fragment of encapsulated Pixel Data, found by its item header (here) or by dicom-parser (see samePixelValues). */
export interface Fragment {
  /** Where its item starts, from the first fragment's item (as the Basic Offset Table counts). */
  readonly itemOffset: number;
  /** Where its bytes start in the file, and how many. */
  readonly dataStart: number;
  readonly length: number;
}

async function itemHeader(file: RangeReader, at: number): Promise<{ tag: number; length: number }> {
  const header = await file.read(at, 8);
  if (header.length < 8) throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `encapsulated Pixel Data: cut short at byte ${at}`);
  return { tag: ((header.readUInt16LE(0) << 16) | header.readUInt16LE(2)) >>> 0, length: header.readUInt32LE(4) };
}

/**
 * The Basic Offset Table's offsets and each fragment's place, read item header by item header (8 bytes each);
 * undefined where the table cannot be one (see readEncapsulatedFramesByRange).
 */
async function fragmentsOf(file: RangeReader, valueStart: number, size: number, numberOfFrames: number):
  Promise<{ offsets: number[]; fragments: Fragment[] } | undefined> {
  const table = await itemHeader(file, valueStart);
  if (table.tag !== ITEM) throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'encapsulated Pixel Data: no Basic Offset Table item');
  // Its length is the file's word, read before anything is allocated for it: four bytes a frame at most, inside the file.
  if (table.length % 4 !== 0 || table.length > 4 * numberOfFrames || valueStart + 8 + table.length > size) return undefined;
  const tableBytes = table.length > 0 ? await file.read(valueStart + 8, table.length) : Buffer.alloc(0);
  const offsets = Array.from({ length: tableBytes.length >> 2 }, (_, k) => tableBytes.readUInt32LE(4 * k));
  const first = valueStart + 8 + table.length;
  const fragments: Fragment[] = [];
  for (let at = first; ;) {
    if (at + 8 > size) throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'encapsulated Pixel Data: no Sequence Delimitation Item');
    const { tag, length } = await itemHeader(file, at);
    if (tag === SEQUENCE_DELIMITATION) return { offsets, fragments };
    if (tag !== ITEM || at + 8 + length > size) {
      throw new MipsegError('MIPSEG_DICOM_UNPARSEABLE', `encapsulated Pixel Data: no fragment item at byte ${at}`);
    }
    fragments.push({ itemOffset: at - first, dataStart: at + 8, length });
    at += 8 + length;
  }
}

/**
 * Which fragments make each frame: by the Basic Offset Table where there is one, else one fragment a frame where the
 * counts agree; undefined otherwise (frames found only by their end-of-image markers: the caller reads the whole file).
 * A table whose offsets do not start at 0, do not increase, or do not each fall on a fragment's item (PS3.5 A.4; some
 * writers count from the table's own item) is not followed: a frame would be sent as another's image.
 */
export function fragmentsByFrame(offsets: readonly number[], fragments: readonly Fragment[], numberOfFrames: number): Fragment[][] | undefined {
  if (numberOfFrames === 1) return [[...fragments]];
  if (offsets.length === 0) return fragments.length === numberOfFrames ? fragments.map((f) => [f]) : undefined;
  if (offsets.length !== numberOfFrames) return undefined;
  const itemStarts = new Set(fragments.map((f) => f.itemOffset));
  if (offsets[0] !== 0 || offsets.some((o, k) => !itemStarts.has(o) || (k > 0 && o <= (offsets[k - 1] as number)))) return undefined;
  return offsets.map((start, f) => {
    const end = offsets[f + 1] ?? Infinity;
    return fragments.filter((g) => g.itemOffset >= start && g.itemOffset < end);
  });
}

/**
 * Encapsulated Pixel Data whose frames were found in a file by their item headers alone (a few bytes each), each frame
 * read from it when asked for: what PS3.18 compressed bulk data and frame retrieval send, without reading a multi-frame
 * instance of hundreds of megabytes whole for one frame, nor holding all its frames to send them one after another.
 */
export interface EncapsulatedFramesInFile {
  readonly transferSyntaxUid: string;
  readonly numberOfFrames: number;
  /** Frame `frame` (1-based, at most numberOfFrames): its fragments' bytes, joined. */
  readonly readFrame: (frame: number) => Promise<Buffer>;
}

/**
 * Finds the frames of a file's encapsulated Pixel Data: `probe` is the file's start, holding its header up to Pixel
 * Data. Undefined where that cannot be done without reading it whole (the header runs past the probe; frames found
 * only by their end-of-image markers).
 */
export async function locateEncapsulatedFrames(file: RangeReader, size: number, probe: Buffer): Promise<EncapsulatedFramesInFile | undefined> {
  let valueStart: number;
  let numberOfFrames: number;
  let transferSyntaxUid: string;
  try {
    const ds = parseStoredDicom(probe, 'x7fe00010');
    const pixel = ds.elements['x7fe00010'];
    if (!pixel || pixel.length !== 0xffffffff) return undefined;
    valueStart = pixel.dataOffset;
    numberOfFrames = Math.max(1, Number(ds.intString('x00280008') ?? 1) || 1);
    transferSyntaxUid = (ds.string('x00020010') ?? '').replace(/\0/g, '').trim();
  } catch {
    return undefined;
  }
  const found = await fragmentsOf(file, valueStart, size, numberOfFrames);
  const byFrame = found && fragmentsByFrame(found.offsets, found.fragments, numberOfFrames);
  if (!byFrame) return undefined;
  const readFrame = async (frame: number): Promise<Buffer> => {
    const parts = byFrame[frame - 1] ?? [];
    return Buffer.concat(await Promise.all(parts.map((p) => file.read(p.dataStart, p.length))));
  };
  return { transferSyntaxUid, numberOfFrames, readFrame };
}

/**
 * The frames `wanted` (1-based, picked from the number there are) of a file's encapsulated Pixel Data, each read alone
 * (see locateEncapsulatedFrames); undefined where they cannot be found so: the caller then reads the file whole.
 */
export async function readEncapsulatedFramesByRange(file: RangeReader, size: number, probe: Buffer,
  wanted: (numberOfFrames: number) => number[]): Promise<{ transferSyntaxUid: string; frames: Buffer[] } | undefined> {
  const located = await locateEncapsulatedFrames(file, size, probe);
  if (!located) return undefined;
  const frames: Buffer[] = [];
  for (const f of wanted(located.numberOfFrames)) frames.push(await located.readFrame(f));
  return { transferSyntaxUid: located.transferSyntaxUid, frames };
}
