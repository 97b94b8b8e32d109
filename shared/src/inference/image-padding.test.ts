import { cropPadded, padToMultiple } from './image-padding';

describe('padToMultiple', () => {
  it('pads at the bottom and right with padValue and crops back to the same pixels', () => {
    const input = Float32Array.from([1, 2, 3, 4, 5, 6]); // 3 x 2
    const padded = padToMultiple(input, 3, 2, 4, 0.25);
    expect([padded.width, padded.height]).toEqual([4, 4]);
    expect(Array.from(padded.data)).toEqual([1, 2, 3, 0.25, 4, 5, 6, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25]);
    expect(Array.from(cropPadded(padded.data, padded.width, 3, 2))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('leaves an image that is already a multiple untouched', () => {
    const input = new Float32Array(64);
    expect(padToMultiple(input, 8, 8, 4, 0).data).toBe(input);
  });
});
