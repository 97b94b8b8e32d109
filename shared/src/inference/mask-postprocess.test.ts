import { componentFilterOf, filterComponents, logit, sigmoid, thresholdLogits } from './mask-postprocess';

describe('thresholdLogits', () => {
  it('marks a pixel as tumour exactly where sigmoid(logit) exceeds the threshold', () => {
    const logits = new Float32Array([-3, -0.01, 0, 0.01, 1.3, 1.5, 4]);
    for (const threshold of [0.5, 0.8]) {
      const expected = Array.from(sigmoid(logits), (p) => (p > threshold ? 1 : 0));
      expect(Array.from(thresholdLogits(logits, threshold))).toEqual(expected);
    }
  });
});

describe('filterComponents', () => {
  // 6 x 4: a diagonal pair (one 8-connected component of 2), a bar of 3 and a single pixel.
  const image = () =>
    Uint8Array.from([
      1, 0, 0, 0, 0, 0,
      0, 1, 0, 1, 1, 1,
      0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 1,
    ]);
  const confident = new Float32Array(24).fill(5);
  const removeSmall = (mask: Uint8Array, width: number, height: number, minArea: number) =>
    filterComponents(mask, new Float32Array(width * height).fill(5), width, height, { minArea, seedThreshold: 0.5 });

  it('keeps components of at least minArea pixels, joining diagonal neighbours', () => {
    expect(Array.from(removeSmall(image(), 6, 4, 2))).toEqual(
      [1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    expect(Array.from(removeSmall(image(), 6, 4, 3))).toEqual(
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });

  it('does not join pixels across the image\'s left and right edges', () => {
    // (5, 0) and (0, 1) are neighbours in memory but not in the image.
    const mask = Uint8Array.from([0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(removeSmall(mask, 6, 2, 2))).toEqual(new Array(12).fill(0));
  });

  it('keeps everything when minArea is 0 or 1 and every component reaches the seed, as training does', () => {
    expect(Array.from(filterComponents(image(), confident, 6, 4, { minArea: 1, seedThreshold: 0.9 }))).toEqual(Array.from(image()));
    expect(Array.from(filterComponents(image(), confident, 6, 4, { minArea: 0, seedThreshold: 0.9 }))).toEqual(Array.from(image()));
  });

  it('keeps a component only when its most confident pixel reaches the seed threshold (hysteresis)', () => {
    const logits = new Float32Array(24).fill(logit(0.6));
    logits[1 * 6 + 4] = logit(0.95); // one sure pixel in the bar of 3
    logits[3 * 6 + 5] = logit(0.89); // the single pixel: lukewarm
    expect(Array.from(filterComponents(image(), logits, 6, 4, { minArea: 0, seedThreshold: 0.9 }))).toEqual(
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });

  it('applies the area and the seed rules together', () => {
    const logits = new Float32Array(24).fill(logit(0.99));
    expect(Array.from(filterComponents(image(), logits, 6, 4, { minArea: 3, seedThreshold: 0.9 }))).toEqual(
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });

  describe('in an image that one component confirms', () => {
    // The bar of 3 is the confident one; the diagonal pair and the single pixel are lukewarm.
    const lukewarm = (barPeak: number) => {
      const logits = new Float32Array(24).fill(logit(0.75));
      logits[1 * 6 + 4] = barPeak;
      logits[3 * 6 + 5] = logit(0.6);
      return logits;
    };
    const filter = { minArea: 3, seedThreshold: 0.95, confirmed: { minArea: 1, seedThreshold: 0.7 } };

    it('keeps the other components that pass the laxer rule, and drops those that do not', () => {
      expect(Array.from(filterComponents(image(), lukewarm(logit(0.99)), 6, 4, filter))).toEqual(
        [1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      );
    });

    it('keeps nothing when no component passes the strict rule, however many pass the laxer one', () => {
      expect(Array.from(filterComponents(image(), lukewarm(logit(0.9)), 6, 4, filter))).toEqual(new Array(24).fill(0));
    });

    it('keeps a confirming component even where the laxer rule alone would drop it', () => {
      const stricterConfirmed = { ...filter, confirmed: { minArea: 5, seedThreshold: 0.7 } };
      expect(Array.from(filterComponents(image(), lukewarm(logit(0.99)), 6, 4, stricterConfirmed))).toEqual(
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      );
    });
  });
});

describe('componentFilterOf (model.json output)', () => {
  it('takes the threshold as the seed when there is no seedThreshold, and no confirmed-image rule when there is none', () => {
    expect(componentFilterOf({ threshold: 0.4, minComponentAreaPx: 20 })).toEqual({ minArea: 20, seedThreshold: 0.4 });
  });

  it('fills the confirmed-image fields left out with the strict ones', () => {
    expect(componentFilterOf({ threshold: 0.2, minComponentAreaPx: 80, seedThreshold: 0.99, confirmedImage: { seedThreshold: 0.7 } }))
      .toEqual({ minArea: 80, seedThreshold: 0.99, confirmed: { minArea: 80, seedThreshold: 0.7 } });
    expect(componentFilterOf({ threshold: 0.2, minComponentAreaPx: 80, seedThreshold: 0.99, confirmedImage: { minComponentAreaPx: 10 } }))
      .toEqual({ minArea: 80, seedThreshold: 0.99, confirmed: { minArea: 10, seedThreshold: 0.99 } });
  });
});
