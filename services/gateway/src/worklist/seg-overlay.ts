import { PNG } from 'pngjs';
import { readSegMask } from '@mipseg/shared/dicom';

/** Tumour colour of the overlay: a saturated red-orange that stands out on greyscale, inverted or not. */
const TUMOUR_RGB = [255, 69, 0] as const;

/** A 0/1 mask as a transparent RGBA PNG: tumour pixels opaque in TUMOUR_RGB, the rest fully transparent. */
export function maskToOverlayPng(mask: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0, j = 0; i < mask.length; i++, j += 4) {
    if (mask[i] === 0) continue; // PNG data starts zeroed: transparent black
    png.data[j] = TUMOUR_RGB[0];
    png.data[j + 1] = TUMOUR_RGB[1];
    png.data[j + 2] = TUMOUR_RGB[2];
    png.data[j + 3] = 255;
  }
  return PNG.sync.write(png);
}

/**
 * Most pixels an overlay is made for: sixteen times a whole-body MIP at 2 mm (about 250 × 1000). The PNG is built on
 * the gateway's thread at about 6 bytes a pixel; any SEG stored by STOW-RS can be named, and a 20000 × 20000 one
 * would otherwise hold gigabytes and stall every request for seconds.
 */
export const MAX_OVERLAY_PIXELS = 4 * 1024 * 1024;

/**
 * The overlay drawing's version, part of its ETag: raise it when the PNG drawn from the same SEG changes (colour,
 * decoding), or browsers revalidating after an upgrade are told 304 and keep the old drawing.
 */
export const OVERLAY_RENDERING_VERSION = 1;

/** The mask of a mipseg SEG (Part 10 bytes) as an overlay PNG of the MIP's size (the SEG is defined on the MIP). */
export function segToOverlayPng(segBytes: Uint8Array): Buffer {
  const { width, height, mask } = readSegMask(segBytes, MAX_OVERLAY_PIXELS);
  return maskToOverlayPng(mask, width, height);
}
