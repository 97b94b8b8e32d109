import { PNG } from 'pngjs';
import { MipsegError } from '../errors';
import { MAX_IMAGE_SIDE } from './image-limits';

/** A single-channel float image, row-major, as the network reads it. */
export interface ModelInput {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Refuses an interlaced (Adam7) PNG before it is decoded: pngjs inflates those with no bound on the output, so a
 * file of 1 MB can expand to gigabytes on the caller's thread. MIPs are never interlaced; resaving one plain works.
 */
export function refuseInterlacedPng(png: Uint8Array): void {
  // IHDR is the first chunk: signature (8), length (4), type (4), then width, height, bit depth, colour type,
  // compression, filter, and the interlace method at byte 28.
  if (png.length > 28 && png[28] !== 0) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', 'interlaced PNGs are not read: save the image without interlacing');
  }
}

/**
 * Checks the signature and the size IHDR declares (the model's MAX_IMAGE_SIDE) before anything is inflated, so that
 * a small file cannot make the decoder allocate a huge image only for the model to refuse it afterwards. Returns
 * that size, for callers with a tighter limit of their own.
 */
export function checkPngHeader(png: Uint8Array): { readonly width: number; readonly height: number } {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', 'not a PNG file');
  }
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width < 1 || height < 1 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', `size ${width} x ${height} (1 to ${MAX_IMAGE_SIDE} px a side)`);
  }
  refuseInterlacedPng(bytes);
  return { width, height };
}

/**
 * The PNG without its tRNS chunk, where that is a colour key (grey or RGB). pngjs makes a pixel of a grey or RGB colour key (0, 0, 0, 0), so white air keyed
 * transparent would read as maximum uptake, while training read images with PIL's convert("L"), which ignores
 * transparency and keeps the colour. A keyed pixel is read by its colour, as PIL reads it; an alpha channel is
 * another matter (pngToModelInput lays such a pixel over white, as it is shown).
 */
function withoutTransparency(png: Buffer): Buffer {

  // One pass over the chunks before the first IDAT (where tRNS must be), each copied at most once: a file of many
  // chunks must cost one walk, not a copy of the file per chunk.
  let tRNS: { start: number; end: number } | undefined;
  for (let at = PNG_SIGNATURE.length; at + 12 <= png.length;) {
    const type = png.toString('latin1', at + 4, at + 8);
    const end = at + 12 + png.readUInt32BE(at);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'tRNS') {
      if (tRNS) throw new MipsegError('MIPSEG_IMAGE_INVALID', 'not a readable PNG: more than one tRNS chunk');
      tRNS = { start: at, end };
    }
    at = end;
  }
  // In a palette image (colour type 3, IHDR's tenth byte) tRNS is each entry's alpha, not a colour key: kept, it is
  // read as an alpha channel is, laid over white (pngToModelInput), so a transparent background is air, not uptake.
  if (!tRNS || png[25] === 3) return png;
  return Buffer.concat([png.subarray(0, tRNS.start), png.subarray(Math.min(tRNS.end, png.length))]);
}

function decodePng(png: Uint8Array): PNG {
  checkPngHeader(png);
  try {
    // pngjs hands back 8-bit RGBA whatever the file's colour type (grey, grey+alpha, palette, RGB).
    return PNG.sync.read(withoutTransparency(Buffer.from(png.buffer, png.byteOffset, png.byteLength)));
  } catch (err) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', `not a readable PNG: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads a DM i AI style MIP PNG (inverted grey: uptake dark, air 255; RGBA with R = G = B, or grey) as
 * network input x = (255 - grey) / 255; a pixel with an alpha channel is laid over white first (a transparent one is
 * air). A colour image, or one mostly dark, is refused (MIPSEG_IMAGE_INVALID). Grey is taken with PIL's convert("L") integer formula so the input
 * is bit-identical to training (training/data.py read_input) even for a PNG whose channels differ.
 */
export function pngToModelInput(png: Uint8Array): ModelInput {
  const { width, height, data: rgba } = decodePng(png);
  const data = new Float32Array(width * height);
  const greyCounts = new Uint32Array(256);
  let coloured = 0;
  for (let i = 0, j = 0; i < data.length; i++, j += 4) {
    const r = rgba[j] as number;
    const g = rgba[j + 1] as number;
    const b = rgba[j + 2] as number;
    const grey = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    // A pixel is read as it is shown, laid over white: a transparent one is air to the model too (a MIP saved with its
    // background transparent, often black underneath). Every DM i AI image is opaque, so training's input is unchanged.
    const alpha = rgba[j + 3] as number;
    if (alpha > 0 && Math.max(r, g, b) - Math.min(r, g, b) > COLOUR_TOLERANCE) coloured++;
    const shown = alpha === 255 ? grey : Math.round((grey * alpha + 255 * (255 - alpha)) / 255);
    greyCounts[shown] = (greyCounts[shown] as number) + 1;
    data[i] = (255 - shown) / 255;
  }
  refuseUnlikeMip(coloured / data.length, medianOf(greyCounts, data.length));
  return { data, width, height };
}

/**
 * Channels may differ by this much in a grey pixel (a MIP saved through a lossy step); beyond it a pixel is coloured.
 * Every DM i AI image has R = G = B.
 */
const COLOUR_TOLERANCE = 16;
/** Coloured pixels above this share make the image a colour one (a colour-mapped MIP, a screenshot), not a grey MIP. */
const MAX_COLOURED_SHARE = 0.01;
/** A MIP the model reads is mostly air and tissue, light grey: the DM i AI images' median grey is 213 to 255. */
const MIN_MEDIAN_GREY = 128;

function medianOf(counts: Uint32Array, total: number): number {
  let seen = 0;
  for (let grey = 0; grey < counts.length; grey++) {
    seen += counts[grey] as number;
    if (seen * 2 >= total) return grey;
  }
  return 255;
}

/**
 * Refuses what the model would read without complaint and answer with nonsense: a colour image (its luminance is not
 * uptake) and a MIP the other way round (uptake bright on black, as most viewers show it, where the model expects
 * uptake dark on white).
 */
function refuseUnlikeMip(colouredShare: number, medianGrey: number): void {
  if (colouredShare > MAX_COLOURED_SHARE) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', `a colour image (${(colouredShare * 100).toFixed(1)} % of its pixels are `
      + 'coloured): the model reads a grey MIP, uptake dark on white, as the DM i AI images are');
  }
  if (medianGrey < MIN_MEDIAN_GREY) {
    throw new MipsegError('MIPSEG_IMAGE_INVALID', `mostly dark (median grey ${medianGrey} of 255): the model reads a MIP `
      + 'with uptake dark on white; invert an image shown uptake bright on black');
  }
}

/** Encodes a 0/1 mask as an 8-bit grey PNG with 0 (background) and 255 (tumour), the DM i AI label style. */
export function maskToPng(mask: Uint8Array, width: number, height: number): Buffer {
  if (mask.length !== width * height) {
    throw new MipsegError('MIPSEG_INTERNAL', `mask has ${mask.length} pixels, expected ${width} x ${height}`);
  }
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  const grey = Buffer.alloc(width * height);
  for (let i = 0; i < mask.length; i++) grey[i] = mask[i] === 0 ? 0 : 255;
  png.data = grey;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 });
}
