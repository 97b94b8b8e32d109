import { PNG } from 'pngjs';
import { maskToOverlayPng } from './seg-overlay';

test('the overlay is transparent outside the mask and opaque tumour colour inside, at the mask\'s size', () => {
  const mask = Uint8Array.from([0, 1, 0, 0, 0, 1]);
  const png = PNG.sync.read(maskToOverlayPng(mask, 3, 2));
  expect([png.width, png.height]).toEqual([3, 2]);
  const alpha = Array.from({ length: 6 }, (_, i) => png.data[i * 4 + 3]);
  expect(alpha).toEqual([0, 255, 0, 0, 0, 255]);
  expect(Array.from(png.data.subarray(4, 8))).toEqual([255, 69, 0, 255]);
});
