import type * as dicomParser from 'dicom-parser';
import { decodedSizeMismatch, frameCodecFor, type FrameGeometry } from '../codecs';
import { fragmentsByFrame } from './encapsulated-ranges';
import { hasNativeFrames, viewStoredSamples } from './pixel-data';
import { TransferSyntax } from './transfer-syntaxes';

const PIXEL_DATA = 'x7fe00010';

/**
 * Encapsulated transfer syntaxes that are lossless by definition (PS3.5 8.2 and A.4): JPEG Lossless Process 14 and
 * its SV1, JPEG-LS lossless (NEAR 0), JPEG 2000 "Lossless Only" (the reversible 5/3 wavelet) and RLE Lossless. A copy
 * in one of them holds exactly the stored values it was made from. JPEG-LS near-lossless and JPEG 2000 (.91) may
 * have changed them, JPEG baseline and extended have: a copy in those is another image, whatever it decodes to.
 */
const LOSSLESS_ENCAPSULATED = new Set<string>([
  TransferSyntax.JpegLossless,
  TransferSyntax.JpegLosslessSv1,
  TransferSyntax.JpegLsLossless,
  TransferSyntax.Jpeg2000Lossless,
  TransferSyntax.RleLossless,
]);

/**
 * The largest frame decoded for the comparison: /rendered's cap (MAX_RENDERED_PIXELS, gateway dicomweb/render.ts),
 * 2048 x 2048. The codecs allocate the frame Rows x Columns declare (a 2 KB JPEG-LS copy can declare 8192 x 8192).
 */
const MAX_COMPARED_FRAME_PIXELS = 2048 * 2048;

/**
 * The most decoding one comparison may cost, in pixels decoded over both copies (a native copy is read in place and
 * costs nothing), each weighted by DECODE_COST. It runs at ingest on the event loop: at the budget one comparison
 * took 0.4-0.6 s of CPU for JPEG-LS and JPEG Lossless on 16-bit noise, 0.1 s for RLE, and 0.3-0.7 s for JPEG 2000 at
 * its weight (measured on a 2-CPU machine). It covers two compressed copies of a 512 x 512 CT or 400 x 400 PET slice,
 * JPEG 2000 included, and 32 frames of 512 x 512 against a native copy (16 when both are compressed).
 */
const MAX_DECODED_PIXELS = 8 * 1024 * 1024;

/** Relative cost of decoding a pixel: OpenJPEG took 6-8 times as long as JPEG-LS or JPEG Lossless a pixel. */
function decodeCost(transferSyntaxUid: string): number {
  return transferSyntaxUid === TransferSyntax.Jpeg2000Lossless ? 8 : 1;
}

/** The Image Pixel attributes the stored values are compared with; both copies share them (sameDataSet checks). */
interface PixelGeometry extends FrameGeometry {
  readonly bitsStored: number;
  readonly numberOfFrames: number;
}

/** Stored values of frame `index` (0-based) of one copy; undefined where its codec gives an image of another size. */
type FrameValues = (index: number) => ArrayLike<number> | undefined;

/**
 * The geometry of a grey image of 8 or 16 bits allocated with its samples in the low bits (HighBit BitsStored - 1,
 * as every encapsulated syntax wants it): what the codecs decode. Undefined for anything else, or an attribute missing.
 */
function pixelGeometry(ds: dicomParser.DataSet): PixelGeometry | undefined {
  const [rows, columns, samplesPerPixel, bitsAllocated, bitsStored, highBit] =
    ['x00280010', 'x00280011', 'x00280002', 'x00280100', 'x00280101', 'x00280102'].map((tag) => ds.uint16(tag));
  const framesText = ds.string('x00280008');
  const numberOfFrames = framesText === undefined ? 1 : Number(framesText);
  if (rows === undefined || columns === undefined || bitsAllocated === undefined || bitsStored === undefined) return undefined;
  if (rows * columns === 0 || samplesPerPixel !== 1 || (bitsAllocated !== 8 && bitsAllocated !== 16)) return undefined;
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit !== bitsStored - 1) return undefined;
  if (!Number.isInteger(numberOfFrames) || numberOfFrames < 1) return undefined;
  return { rows, columns, bitsAllocated, bitsStored, numberOfFrames };
}

function transferSyntaxOf(ds: dicomParser.DataSet): string {
  return (ds.string('x00020010') ?? '').replace(/\0/g, '').trim();
}

/** Native little-endian frames, read in place; undefined where Pixel Data is too short for them all. */
function nativeFrames(ds: dicomParser.DataSet, element: dicomParser.Element, g: PixelGeometry): FrameValues | undefined {
  const pixels = g.rows * g.columns;
  const frameLength = pixels * (g.bitsAllocated / 8);
  if (element.encapsulatedPixelData || element.length < frameLength * g.numberOfFrames) return undefined;
  return (index) => viewStoredSamples(ds.byteArray, element.dataOffset + index * frameLength, pixels, g.bitsAllocated, false);
}

/**
 * Encapsulated frames of a lossless syntax, decoded one at a time. Undefined where the syntax is not lossless or has
 * no codec here, or the frames cannot be told apart (see fragmentsByFrame). A codec throws on data it cannot decode.
 */
function losslessFrames(ds: dicomParser.DataSet, element: dicomParser.Element, g: PixelGeometry): FrameValues | undefined {
  const transferSyntaxUid = transferSyntaxOf(ds);
  const codec = LOSSLESS_ENCAPSULATED.has(transferSyntaxUid) ? frameCodecFor(transferSyntaxUid) : undefined;
  if (!codec || !element.encapsulatedPixelData || !element.fragments?.length) return undefined;
  // dicom-parser counts a fragment's offset from the first fragment's item, as the Basic Offset Table does.
  const fragments = element.fragments.map((f) => ({ itemOffset: f.offset, dataStart: f.position, length: f.length }));
  const byFrame = fragmentsByFrame(element.basicOffsetTable ?? [], fragments, g.numberOfFrames);
  if (byFrame?.length !== g.numberOfFrames) return undefined;
  const bytes = ds.byteArray;
  return (index) => {
    const parts = (byFrame[index] ?? []).map((f) => bytes.subarray(f.dataStart, f.dataStart + f.length));
    const decoded = codec.decode(parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts), g);
    return decodedSizeMismatch(codec.name, decoded, g) === undefined ? decoded.samples : undefined;
  };
}

/**
 * Whether decoding both copies fits the budget (MAX_COMPARED_FRAME_PIXELS, MAX_DECODED_PIXELS), from their headers
 * alone: a 64 MiB file can hold ~190,000 small compressed frames, hours of decoding.
 */
function withinDecodeBudget(g: PixelGeometry, copies: readonly dicomParser.DataSet[]): boolean {
  const framePixels = g.rows * g.columns;
  if (framePixels > MAX_COMPARED_FRAME_PIXELS) return false;
  const cost = copies.map(transferSyntaxOf).filter((uid) => !hasNativeFrames(uid))
    .reduce((sum, uid) => sum + framePixels * g.numberOfFrames * decodeCost(uid), 0);
  return cost <= MAX_DECODED_PIXELS;
}

function framesOf(ds: dicomParser.DataSet, g: PixelGeometry): FrameValues | undefined {
  const element = ds.elements[PIXEL_DATA];
  if (!element) return undefined;
  return hasNativeFrames(transferSyntaxOf(ds)) ? nativeFrames(ds, element, g) : losslessFrames(ds, element, g);
}

/**
 * Whether the values agree in their low BitsStored bits: all there is of a stored value (PS3.5 8.1.1). Codecs give
 * signed data as its bit pattern, and a native word may carry bits above HighBit (the sign extended, an old overlay)
 * that are not pixel data.
 */
function sameStoredValues(a: ArrayLike<number>, b: ArrayLike<number>, bitsStored: number): boolean {
  const mask = 2 ** bitsStored - 1;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if ((((a[i] as number) ^ (b[i] as number)) & mask) !== 0) return false;
  }
  return true;
}

/**
 * Whether two data sets' Pixel Data, whose bytes differ and of which one or both are encapsulated in a lossless
 * transfer syntax (see LOSSLESS_ENCAPSULATED), hold the same stored values: a PACS's JPEG Lossless, JPEG-LS or RLE copy
 * of what a modality sent uncompressed, or two such copies. Frame by frame, stopping at the first that differs. Both
 * native, a lossy syntax, a frame that cannot be decoded or decodes to another size, other frame counts or geometry,
 * or more decoding than the budget allows (withinDecodeBudget, checked before any frame is decoded): not the same,
 * so the new copy replaces the stored one rather than being lost.
 */
export function samePixelValues(a: dicomParser.DataSet, b: dicomParser.DataSet): boolean {
  const g = pixelGeometry(a);
  const other = pixelGeometry(b);
  if (!g || !other || Object.entries(g).some(([key, value]) => other[key as keyof PixelGeometry] !== value)) return false;
  if (hasNativeFrames(transferSyntaxOf(a)) && hasNativeFrames(transferSyntaxOf(b))) return false;
  if (!withinDecodeBudget(g, [a, b])) return false;
  const framesA = framesOf(a, g);
  const framesB = framesOf(b, g);
  if (!framesA || !framesB) return false;
  try {
    for (let index = 0; index < g.numberOfFrames; index++) {
      const valuesA = framesA(index);
      const valuesB = valuesA && framesB(index);
      if (!valuesA || !valuesB || !sameStoredValues(valuesA, valuesB, g.bitsStored)) return false;
    }
  } catch {
    // Undecodable data (a plain Error from the codec), or a codec that will not load (MIPSEG_INTERNAL): the question
    // cannot be answered, and "different" keeps the store as it was before this comparison existed.
    return false;
  }
  return true;
}
