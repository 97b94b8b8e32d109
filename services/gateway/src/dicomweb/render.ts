import { PNG } from 'pngjs';
import { readFrameValues, type PixelModule } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';

export interface Window {
  readonly center: number;
  readonly width: number;
}

/** `window=center,width[,function]` (PS3.18 §8.3.5.1.4); linear function only. */
export function parseWindowParam(raw: unknown): Window | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new MipsegError('MIPSEG_BAD_QUERY', 'window given more than once');
  const [c, w, fn = 'linear'] = raw.split(',');
  const center = Number(c);
  const width = Number(w);
  if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0 || fn.toLowerCase() !== 'linear') {
    throw new MipsegError('MIPSEG_BAD_QUERY', `window=${raw} (center,width,linear)`);
  }
  return { center, width };
}

/**
 * PET has no meaningful stored window: activity spans orders of magnitude between background and the
 * bladder. We show 0 .. the 99.5th percentile of the frame, which keeps lesions visible without the
 * hottest organ washing everything out.
 */
function defaultWindow(values: Float32Array, m: PixelModule): Window {
  if (m.windowCenter !== null && m.windowWidth !== null && m.windowWidth > 0) {
    return { center: m.windowCenter, width: m.windowWidth };
  }
  const sorted = Float32Array.from(values).sort();
  const hi = sorted[Math.floor((sorted.length - 1) * 0.995)] ?? 1;
  const lo = Math.min(0, sorted[0] ?? 0);
  const width = Math.max(hi - lo, 1e-6);
  return { center: lo + width / 2, width };
}

/** Renders one frame of a greyscale instance to an 8-bit PNG (rescaled, windowed, MONOCHROME1 inverted). */
export function renderFramePng(bytes: Uint8Array, m: PixelModule, frame: number, window?: Window): Buffer {
  if (m.samplesPerPixel !== 1 || !m.photometricInterpretation.startsWith('MONOCHROME')) {
    throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `PhotometricInterpretation ${m.photometricInterpretation}`);
  }
  if (frame < 1 || frame > m.numberOfFrames) throw new MipsegError('MIPSEG_NOT_FOUND', `frame ${frame}`);
  const stored = readFrameValues(bytes, m, frame);
  const values = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) values[i] = (stored[i] as number) * m.rescaleSlope + m.rescaleIntercept;
  const w = window ?? defaultWindow(values, m);
  const png = new PNG({ width: m.columns, height: m.rows, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const lo = w.center - w.width / 2;
  const invert = m.photometricInterpretation === 'MONOCHROME1';
  const grey = Buffer.alloc(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round((((values[i] as number) - lo) / w.width) * 255);
    const clamped = v < 0 ? 0 : v > 255 ? 255 : v;
    grey[i] = invert ? 255 - clamped : clamped;
  }
  png.data = grey;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}
