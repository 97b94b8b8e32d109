import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { readFrameValues, type ImagePixelAttributes, type PixelModule } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { applyViewport, type Viewport } from './viewport';

/**
 * A VOI window (PS3.3 C.11.2.1.2). `linear`, the default, maps c − 0.5 ± (w − 1)/2 to black and white, so a window
 * of 3.5/7 shows 0 to 6; `linear-exact` maps c ± w/2.
 */
export interface Window {
  readonly center: number;
  readonly width: number;
  readonly fn: 'linear' | 'linear-exact';
}

/** `window=center,width[,function]` (PS3.18 §8.3.5.1.4): linear (the default) or linear-exact. */
export function parseWindowParam(raw: unknown): Window | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new MipsegError('MIPSEG_BAD_QUERY', 'window given more than once');
  const [c, w, name = 'linear'] = raw.split(',');
  const center = Number(c);
  const width = Number(w);
  const fn = name.toLowerCase();
  if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0 || (fn !== 'linear' && fn !== 'linear-exact')) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `window=${raw} (center,width[,linear|linear-exact])`);
  }
  return { center, width, fn };
}

/**
 * A segmentation's values say what they mean: a BINARY frame (BitsAllocated 1) shows 0 black and 1 white; a
 * FRACTIONAL one 0 black and MaximumFractionalValue white. Otherwise the instance's own window where it has one
 * (SIGMOID is shown as LINEAR). PET has no meaningful stored window:
 * activity spans orders of magnitude between background and the bladder. We show 0 .. the 99.5th percentile of
 * the frame, which keeps lesions visible without the hottest organ washing everything out. Exported for its tests.
 */
export function defaultWindow(values: Float32Array, m: ImagePixelAttributes): Window {
  if (m.bitsAllocated === 1) return { center: 0.5, width: 1, fn: 'linear-exact' };
  if (m.maximumFractionalValue !== null && m.maximumFractionalValue > 0) {
    return { center: m.maximumFractionalValue / 2, width: m.maximumFractionalValue, fn: 'linear-exact' };
  }
  if (m.windowCenter !== null && m.windowWidth !== null && m.windowWidth > 0) {
    return { center: m.windowCenter, width: m.windowWidth, fn: m.voiLutFunction === 'LINEAR_EXACT' ? 'linear-exact' : 'linear' };
  }
  const hi = values.length > 0 ? kthSmallest(Float32Array.from(values), Math.floor((values.length - 1) * 0.995)) : 1;
  const lo = Math.min(0, smallest(values));
  const width = Math.max(hi - lo, 1e-6);
  return { center: lo + width / 2, width, fn: 'linear-exact' };
}

/** What a sort would put first: the smallest value other than NaN, NaN where all are (0 for none). */
function smallest(values: Float32Array): number {
  let min = values[0] ?? 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) < min || Number.isNaN(min)) min = values[i] as number;
  return min;
}

/**
 * Moves every NaN to the end of `values`, as a sort would place them, and returns how many values are not NaN. A
 * RescaleSlope that reads as Infinity makes a stored 0 NaN; the comparisons that partition cannot order NaN.
 */
function nanLast(values: Float32Array): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (Number.isNaN(value)) continue;
    values[i] = values[count] as number;
    values[count++] = value;
  }
  return count;
}

/**
 * The value sorting `values` would put at index `k`, found in expected linear time (Hoare's FIND, as in Wirth's
 * Algorithms + Data Structures 2.3.4) by partitioning `values`, which it reorders. A full sort of a 16 MPx frame took
 * seconds on the event loop. The pivot is drawn at random, so no stored frame makes it quadratic; equal values (a
 * PET frame's zero background) are split on both sides and cost no more. NaN sorts last, as TypedArray sort has it.
 */
function kthSmallest(values: Float32Array, k: number): number {
  const ordered = nanLast(values);
  if (k >= ordered) return Number.NaN;
  let left = 0;
  let right = ordered - 1;
  while (left < right) {
    const pivot = values[left + Math.floor(Math.random() * (right - left + 1))] as number;
    let i = left;
    let j = right;
    do {
      while ((values[i] as number) < pivot) i++;
      while (pivot < (values[j] as number)) j--;
      if (i <= j) {
        const swap = values[i] as number;
        values[i++] = values[j] as number;
        values[j--] = swap;
      }
    } while (i <= j);
    if (j < k) left = i;
    if (k < i) right = j;
  }
  return values[k] as number;
}

/** The values a window shows as black and as white. LINEAR with a width under 1 is a threshold at c − 0.5. */
function windowBounds(w: Window): { lo: number; span: number } {
  if (w.fn === 'linear-exact') return { lo: w.center - w.width / 2, span: w.width };
  const span = Math.max(w.width - 1, 0);
  return { lo: w.center - 0.5 - span / 2, span };
}

/** The media types /rendered answers in: PNG (lossless) preferred where the client takes both. */
export const RENDERED_MEDIA_TYPES = ['image/png', 'image/jpeg'] as const;
export type RenderedMediaType = (typeof RENDERED_MEDIA_TYPES)[number];

/** JPEG quality of a rendered frame: a viewing copy of 8-bit greyscale, not a diagnostic one. */
const JPEG_QUALITY = 90;

/** `quality=q` (PS3.18 8.3.5.1.2): an integer from 1 to 100, which only a lossy media type (JPEG) has a use for. */
export function parseQualityParam(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const q = typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(q >= 1 && q <= 100)) throw new MipsegError('MIPSEG_BAD_QUERY', `quality=${typeof raw === 'string' ? raw.slice(0, 32) : '… given more than once'} (an integer from 1 to 100)`);
  return q;
}

/**
 * The PS3.18 rendered parameters (8.3.5.1) in `query` that this rendering does not apply, each with why, for a Warning:
 * a client that asked for burnt-in annotations and got the plain image must be told so.
 */
export function renderedParamsNotApplied(query: Readonly<Record<string, unknown>>, type: RenderedMediaType): string[] {
  const notApplied: string[] = [];
  if (query['annotation'] !== undefined) notApplied.push('annotation (nothing is burnt in)');
  // A greyscale PNG or JPEG carries no profile: iccprofile=no is what is done anyway.
  if (query['iccprofile'] !== undefined && query['iccprofile'] !== 'no') notApplied.push('iccprofile (no profile is embedded)');
  if (query['quality'] !== undefined && type !== 'image/jpeg') notApplied.push(`quality (${type} is lossless)`);
  return notApplied;
}

/** How to draw a frame: the VOI window (else the instance's own, see defaultWindow), JPEG quality, and viewport. */
export interface RenderOptions {
  readonly window?: Window;
  readonly quality?: number;
  readonly viewport?: Viewport;
}

/**
 * The most pixels /rendered draws of one frame: 4 MPx, 2048 x 2048 (or 4096 x 1024). What a viewer asks mipseg for is
 * PET (128-400 square), CT (512 square), mipseg's own MIP (at most 2 MPx) and overlays (at most 4 MPx); a frame of
 * this size costs about a second to decode and draw on the event loop, which every other request waits for. A
 * radiograph or mammogram of 10-30 MPx is for a diagnostic viewer, not this one: a 67 MPx frame took minutes and
 * over a gigabyte.
 */
export const MAX_RENDERED_PIXELS = 2048 * 2048;

/** Refuses a frame of more than MAX_RENDERED_PIXELS, naming its size and the cap; checked before any frame is read. */
export function assertRenderableSize(rows: number, columns: number): void {
  if (rows * columns <= MAX_RENDERED_PIXELS) return;
  throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `a frame of ${columns} x ${rows} pixels (${rows * columns}): /rendered ` +
    `draws at most ${MAX_RENDERED_PIXELS} pixels a frame (2048 x 2048)`);
}

/**
 * Why /rendered cannot draw an instance of these attributes, thrown before any frame is read: colour, samples other
 * than 1, 8, 16 or 32 bits, or frames of more than MAX_RENDERED_PIXELS.
 */
export function assertRenderable(m: ImagePixelAttributes): void {
  assertRenderableSize(m.rows, m.columns);
  if (m.samplesPerPixel !== 1 || !m.photometricInterpretation.startsWith('MONOCHROME')) {
    throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `PhotometricInterpretation ${m.photometricInterpretation}`);
  }
  if (![1, 8, 16, 32].includes(m.bitsAllocated)) throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `BitsAllocated ${m.bitsAllocated}`);
}

/**
 * Renders one frame of a greyscale instance as `type` (8-bit: rescaled, windowed, MONOCHROME1 inverted), then cut to
 * the viewport's source region and scaled to fit it, as PS3.18 8.3.5.1 orders them; `quality` applies to JPEG.
 */
export function renderFrame(bytes: Uint8Array, m: PixelModule, frame: number, type: RenderedMediaType, options: RenderOptions = {}): Buffer {
  assertRenderable(m);
  if (frame < 1 || frame > m.numberOfFrames) throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${frame}`);
  return renderStoredValues(readFrameValues(bytes, m, frame), m, type, options);
}

/**
 * renderFrame for one frame's stored values (Rows x Columns, before rescale) already read: a decoded compressed
 * frame. `m` must be renderable (assertRenderable).
 */
export function renderStoredValues(stored: ArrayLike<number>, m: ImagePixelAttributes, type: RenderedMediaType,
  options: RenderOptions = {}): Buffer {
  const full = renderGrey(stored, m, options.window);
  const { grey, width, height } = options.viewport
    ? applyViewport(full, m.columns, m.rows, options.viewport)
    : { grey: full, width: m.columns, height: m.rows };
  if (type === 'image/png') {
    const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
    png.data = grey;
    return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
  }
  // jpeg-js takes RGBA: each grey value three times, opaque.
  const rgba = Buffer.alloc(grey.length * 4, 255);
  for (let i = 0, j = 0; i < grey.length; i++, j += 4) rgba[j] = rgba[j + 1] = rgba[j + 2] = grey[i] as number;
  return jpeg.encode({ data: rgba, width, height }, options.quality ?? JPEG_QUALITY).data;
}

/** One frame's stored values as 8-bit grey values, row-major. */
function renderGrey(stored: ArrayLike<number>, m: ImagePixelAttributes, window?: Window): Buffer {
  const values = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) values[i] = (stored[i] as number) * m.rescaleSlope + m.rescaleIntercept;
  const { lo, span } = windowBounds(window ?? defaultWindow(values, m));
  const invert = m.photometricInterpretation === 'MONOCHROME1';
  const grey = Buffer.alloc(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = (values[i] as number) - lo;
    const v = span > 0 ? Math.round((x / span) * 255) : x > 0 ? 255 : 0;
    const clamped = v < 0 ? 0 : v > 255 ? 255 : v;
    grey[i] = invert ? 255 - clamped : clamped;
  }
  return grey;
}
