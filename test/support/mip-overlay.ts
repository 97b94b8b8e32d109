import { PNG } from 'pngjs';

/**
 * Draws a MIP (SUV, shown inverted like the DM i AI images: uptake dark) with outlines: each overlay is a
 * 0/1 mask whose boundary pixels are painted in its colour. For test artefacts a person looks at.
 */
export function drawMipWithOutlines(suv: Float32Array, width: number, height: number, suvWhite: number,
  overlays: ReadonlyArray<{ mask: Uint8Array; rgb: [number, number, number] }>): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    const grey = Math.round(255 * (1 - Math.min(1, Math.max(0, (suv[i] as number) / suvWhite))));
    png.data.set([grey, grey, grey, 255], i * 4);
  }
  for (const { mask, rgb } of overlays) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!mask[i]) continue;
        const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
          !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
        if (edge) png.data.set([...rgb, 255], i * 4);
      }
    }
  }
  return PNG.sync.write(png);
}
