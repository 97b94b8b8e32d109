import { MipsegError } from '@mipseg/shared/errors';

/**
 * The largest viewport side drawn. The output is held as 8-bit grey (and four times that as RGBA for JPEG): without
 * a bound, viewport=100000,100000 of a one-pixel region would ask for ten gigabytes.
 */
export const MAX_VIEWPORT_SIDE = 4096;

/**
 * The most pixels a region is enlarged to, where it has fewer: what a viewer needs to fit a thumbnail or a MIP into a
 * part of a screen. viewport=4096,4096 of an 8 × 8 frame drew 16.7 million pixels (about a second of blocking work and
 * 265 MB a request); now no request draws more pixels than this or than the region it cuts from the image.
 */
export const MAX_ENLARGED_PIXELS = 1024 * 1024;

/**
 * A source region of the image (PS3.18 8.3.5.1.3), in pixels, possibly fractional: its top-left corner, and a width and
 * height whose sign says whether the region is flipped: columns x .. x + |width|, drawn right to left where width is
 * negative (rows alike with height). Undefined width/height: to the image's right (bottom) edge.
 */
export interface SourceRegion {
  readonly x: number;
  readonly y: number;
  readonly width?: number;
  readonly height?: number;
}

/** `viewport=vw,vh[,sx,sy,sw,sh]`: the size the rendered image must fit in, and the part of the image to fit there. */
export interface Viewport {
  readonly width: number;
  readonly height: number;
  readonly region?: SourceRegion;
}

const SYNTAX = `vw,vh[,sx,sy,sw,sh]: vw and vh integers 1..${MAX_VIEWPORT_SIDE}; sx, sy, sw, sh decimal numbers taken by their absolute values, sw and sh non-zero (negative flips), each empty or, trailing, left out for its default`;

function bad(raw: string, why: string): MipsegError {
  return new MipsegError('MIPSEG_BAD_QUERY', `viewport=${raw.slice(0, 64)}: ${why} (${SYNTAX})`);
}

/** An integer written as such (no exponent, no fraction, no spaces), or undefined for an empty value. */
function integerOrEmpty(text: string, raw: string, name: string): number | undefined {
  if (text === '') return undefined;
  if (!/^-?\d{1,9}$/.test(text)) throw bad(raw, `${name} is not an integer`);
  return Number(text);
}

/** A decimal number in plain notation (`12`, `-3.5`, `.25`, `4.`; no exponent), or undefined for an empty value. */
function decimalOrEmpty(text: string, raw: string, name: string): number | undefined {
  if (text === '') return undefined;
  if (!/^[+-]?(?:\d{1,9}(?:\.\d{0,9})?|\.\d{1,9})$/.test(text)) throw bad(raw, `${name} is not a decimal number`);
  return Number(text);
}

function viewportSide(text: string, raw: string, name: string): number {
  const side = integerOrEmpty(text, raw, name);
  if (side === undefined || side < 1 || side > MAX_VIEWPORT_SIDE) throw bad(raw, `${name} must be 1..${MAX_VIEWPORT_SIDE}`);
  return side;
}

/**
 * The region's values, those left out as empty; undefined where all are empty (the whole image, as with the two-value
 * form). PS3.18 has sx and sy by their absolute values, and the sign of sw and sh only flip.
 */
function sourceRegion(values: readonly string[], raw: string): SourceRegion | undefined {
  const [x, y, width, height] = (['sx', 'sy', 'sw', 'sh'] as const).map((name, k) => decimalOrEmpty(values[k] ?? '', raw, name));
  if (width === 0 || height === 0) throw bad(raw, 'sw and sh must not be 0');
  if (x === undefined && y === undefined && width === undefined && height === undefined) return undefined;
  return { x: Math.abs(x ?? 0), y: Math.abs(y ?? 0), ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}) };
}

/** `viewport` as a client sent it; 400 MIPSEG_BAD_QUERY, naming what is wrong, where it is malformed. */
export function parseViewportParam(raw: unknown): Viewport | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new MipsegError('MIPSEG_BAD_QUERY', `viewport given more than once (${SYNTAX})`);
  const values = raw.split(',').map((v) => v.trim());
  if (values.length < 2 || values.length > 6) throw bad(raw, `${values.length} values`);
  const width = viewportSide(values[0] ?? '', raw, 'vw');
  const height = viewportSide(values[1] ?? '', raw, 'vh');
  const region = sourceRegion(values.slice(2), raw);
  return region ? { width, height, region } : { width, height };
}

/** One axis of a region placed on an image: where it starts and its length (both may be fractional), and whether it is
 * drawn backwards. */
interface Span {
  readonly start: number;
  readonly length: number;
  readonly flipped: boolean;
}

function span(start: number, signed: number | undefined, imageLength: number, names: string): Span {
  const length = signed === undefined ? imageLength - start : Math.abs(signed);
  if (start >= imageLength || start + length > imageLength) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `viewport: the source region's ${names} run past the image's ${imageLength} pixels`);
  }
  return { start, length, flipped: signed !== undefined && signed < 0 };
}

/** The first source pixel a span touches, and one past its last. */
function pixelsOf(s: Span): { first: number; end: number } {
  return { first: Math.floor(s.start), end: Math.ceil(s.start + s.length) };
}

/**
 * For each output pixel along one axis, the source pixels it covers and how much of each: the source span cut into
 * `out` equal intervals. Averaging over them (a box filter) keeps a downscaled PET's small hot lesions visible, where
 * picking one pixel of each interval would drop most of them. A fractional span covers part of its end pixels.
 */
function coverage(s: Span, out: number): Array<Array<{ index: number; weight: number }>> {
  const step = s.length / out;
  const { first, end } = pixelsOf(s);
  return Array.from({ length: out }, (_, i) => {
    // Where the i-th output pixel's interval lies in the image: counted from the span's far end where it is flipped.
    const from = s.flipped ? s.start + s.length - (i + 1) * step : s.start + i * step;
    const to = from + step;
    const covered: Array<{ index: number; weight: number }> = [];
    for (let k = Math.max(first, Math.floor(from)); k < Math.min(end, Math.ceil(to)); k++) {
      const weight = (Math.min(to, k + 1) - Math.max(from, k)) / step;
      if (weight > 0) covered.push({ index: k, weight });
    }
    return covered;
  });
}

type Coverage = ReturnType<typeof coverage>;

/** The region's rows, each resampled to `xs.length` values: a small region of a large image costs its own size. */
function resampleAcross(grey: Uint8Array, columns: number, down: Span, xs: Coverage): Float32Array {
  const width = xs.length;
  const { first, end } = pixelsOf(down);
  const out = new Float32Array(width * (end - first));
  for (let r = 0; r < end - first; r++) {
    const sourceRow = (first + r) * columns;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (const c of xs[x] ?? []) sum += (grey[sourceRow + c.index] as number) * c.weight;
      out[r * width + x] = sum;
    }
  }
  return out;
}

/** Rows made by resampleAcross, resampled down to `ys.length` rows of 8-bit grey. */
function resampleDown(rowsAcross: Float32Array, width: number, down: Span, ys: Coverage): Buffer {
  const { first } = pixelsOf(down);
  const out = Buffer.alloc(width * ys.length);
  for (let y = 0; y < ys.length; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (const c of ys[y] ?? []) sum += (rowsAcross[(c.index - first) * width + x] as number) * c.weight;
      out[y * width + x] = Math.min(255, Math.max(0, Math.round(sum)));
    }
  }
  return out;
}

/**
 * The region's spans, and the size it is drawn at: scaled to fit in vw × vh keeping its aspect ratio (vw wide or vh
 * high, the other side as large as that ratio allows, never padded), but enlarged to no more than
 * max(MAX_ENLARGED_PIXELS, the region's own pixels); `limited` where that made it smaller than the viewport asked.
 */
function fit(columns: number, rows: number, viewport: Viewport):
  { across: Span; down: Span; width: number; height: number; limited: boolean } {
  const region = viewport.region ?? { x: 0, y: 0 };
  const across = span(region.x, region.width, columns, 'columns (sx, sw)');
  const down = span(region.y, region.height, rows, 'rows (sy, sh)');
  const asked = Math.min(viewport.width / across.length, viewport.height / down.length);
  const regionPixels = across.length * down.length;
  const largest = Math.max(1, Math.sqrt(Math.max(MAX_ENLARGED_PIXELS, regionPixels) / regionPixels));
  const limited = asked > largest;
  // Whole pixels down where limited, so that rounding never takes the output past the bound.
  const whole = limited ? Math.floor : Math.round;
  const scale = Math.min(asked, largest);
  const width = Math.max(1, Math.min(viewport.width, whole(across.length * scale)));
  const height = Math.max(1, Math.min(viewport.height, whole(down.length * scale)));
  return { across, down, width, height, limited };
}

/**
 * Why the viewport is not drawn at the size it asked for, for a Warning, or undefined where it is: a region enlarged
 * past MAX_ENLARGED_PIXELS (or its own size) is drawn at that. 400 MIPSEG_BAD_QUERY where the region does not lie
 * within the image.
 */
export function viewportNotApplied(columns: number, rows: number, viewport: Viewport): string | undefined {
  const { width, height, across, down, limited } = fit(columns, rows, viewport);
  if (!limited) return undefined;
  const bound = Math.max(MAX_ENLARGED_PIXELS, Math.floor(across.length * down.length));
  return `viewport (drawn at ${width}x${height}, not enlarged past ${bound} pixels)`;
}

/**
 * An 8-bit grey image (`columns` × `rows`, row-major) cut to the viewport's source region and scaled to fit in
 * vw × vh (see fit). 400 MIPSEG_BAD_QUERY where the region does not lie within the image.
 */
export function applyViewport(grey: Uint8Array, columns: number, rows: number, viewport: Viewport):
  { grey: Buffer; width: number; height: number } {
  const { across, down, width, height } = fit(columns, rows, viewport);
  const resampled = resampleDown(resampleAcross(grey, columns, down, coverage(across, width)), width, down, coverage(down, height));
  return { grey: resampled, width, height };
}
