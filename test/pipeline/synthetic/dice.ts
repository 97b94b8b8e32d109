/**
 * Dice = 2·TP / (2·TP + FP + FN) of two 0/1 masks of the same size, as the DM i AI case scores one image
 * (../shared/data/README.md). Two empty masks agree perfectly (1); an empty prediction of a non-empty label is 0.
 */
export function dice(predicted: Uint8Array, label: Uint8Array): number {
  if (predicted.length !== label.length) throw new Error(`masks of ${predicted.length} and ${label.length} pixels`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < label.length; i++) {
    const p = predicted[i] !== 0;
    const l = label[i] !== 0;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
  }
  return tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn);
}

export const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
