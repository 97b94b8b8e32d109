/**
 * Turns network logits into a 0/1 tumour mask: threshold, then drop the 8-connected components that are too
 * small or whose most confident pixel stays below the seed threshold (hysteresis), with a laxer rule for the
 * other components of an image that one confident component has confirmed, like
 * models/mip-attention-unet/training/postprocess.py.
 */
import type { ModelManifest } from './model-manifest';

/**
 * sigmoid(l) > t  <=>  l > logit(t), so the threshold is applied to logits without a sigmoid per pixel.
 * (PyTorch's float32 sigmoid rounds to exactly 0.5 for |l| below ~6e-8; such pixels may differ. Harmless.)
 */
export function thresholdLogits(logits: Float32Array, threshold: number): Uint8Array {
  const cut = logit(threshold);
  const mask = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) mask[i] = (logits[i] as number) > cut ? 1 : 0;
  return mask;
}

/** The inverse of the sigmoid: probability → logit. */
export function logit(probability: number): number {
  return Math.log(probability / (1 - probability));
}

export function sigmoid(logits: Float32Array): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-(logits[i] as number)));
  return out;
}

/** What a component needs to be kept: at least minArea pixels and a most confident pixel at seedThreshold or above. */
export interface ComponentRule {
  readonly minArea: number;
  readonly seedThreshold: number;
}

/**
 * The output filter of model.json: `rule` for every component; with `confirmed`, an image that holds at least one
 * component passing `rule` keeps its other components when they pass `confirmed` (laxer), and an image that
 * holds none stays empty (models/mip-attention-unet/training/postprocess.py, steps 3 and 4).
 */
export interface ComponentFilter extends ComponentRule {
  readonly confirmed?: ComponentRule;
}

/** model.json's output filter with its defaults filled in (absent seed: the threshold; absent confirmed fields: the strict ones). */
export function componentFilterOf(
  output: Pick<ModelManifest['output'], 'threshold' | 'minComponentAreaPx' | 'seedThreshold' | 'confirmedImage'>,
): ComponentFilter {
  const strict = { minArea: output.minComponentAreaPx, seedThreshold: output.seedThreshold ?? output.threshold };
  const confirmed = output.confirmedImage;
  if (!confirmed) return strict;
  return {
    ...strict,
    confirmed: { minArea: confirmed.minComponentAreaPx ?? strict.minArea, seedThreshold: confirmed.seedThreshold ?? strict.seedThreshold },
  };
}

/**
 * Clears, in place, every 8-connected component of `mask` that `filter` drops (minArea 0 or 1 keeps any size,
 * as training/postprocess.py does). Returns the mask.
 */
export function filterComponents(mask: Uint8Array, logits: Float32Array, width: number, height: number, filter: ComponentFilter): Uint8Array {
  const passes = (rule: ComponentRule, pixels: Int32Array, area: number): boolean =>
    area >= rule.minArea && peakLogit(logits, pixels, area) >= logit(rule.seedThreshold);
  let lax: ComponentRule | undefined;
  if (filter.confirmed) {
    let imageConfirmed = false;
    forEachComponent(mask, width, height, (pixels, area) => {
      imageConfirmed ||= passes(filter, pixels, area);
    });
    if (imageConfirmed) lax = filter.confirmed;
  }
  forEachComponent(mask, width, height, (pixels, area) => {
    if (passes(filter, pixels, area) || (lax !== undefined && passes(lax, pixels, area))) return;
    for (let k = 0; k < area; k++) mask[pixels[k] as number] = 0;
  });
  return mask;
}

function peakLogit(logits: Float32Array, pixels: Int32Array, area: number): number {
  let peak = -Infinity;
  for (let k = 0; k < area; k++) peak = Math.max(peak, logits[pixels[k] as number] as number);
  return peak;
}

/**
 * Calls `visit` once per 8-connected component of `mask`, with the component's pixel indices in
 * pixels[0..area). One buffer serves as the flood-fill stack and, behind it, the list of the component's pixels;
 * it is reused for the next component, so `visit` must not keep it.
 */
export function forEachComponent(mask: Uint8Array, width: number, height: number, visit: (pixels: Int32Array, area: number) => void): void {
  const visited = new Uint8Array(mask.length);
  const pixels = new Int32Array(mask.length);
  for (let seed = 0; seed < mask.length; seed++) {
    if (mask[seed] === 0 || visited[seed] === 1) continue;
    visit(pixels, floodFill(mask, visited, pixels, width, height, seed));
  }
}

/** Collects the component of `seed` into pixels[0..area); returns area. */
function floodFill(mask: Uint8Array, visited: Uint8Array, pixels: Int32Array, width: number, height: number, seed: number): number {
  let area = 0;
  let next = 0;
  pixels[area++] = seed;
  visited[seed] = 1;
  while (next < area) {
    const p = pixels[next++] as number;
    const x = p % width;
    const y = (p - x) / width;
    for (let dy = -1; dy <= 1; dy++) {
      const ny = y + dy;
      if (ny < 0 || ny >= height) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        if (nx < 0 || nx >= width) continue;
        const q = ny * width + nx;
        if (mask[q] === 1 && visited[q] === 0) {
          visited[q] = 1;
          pixels[area++] = q;
        }
      }
    }
  }
  return area;
}

/** The areas (pixels) of the 8-connected components of `mask`: the lesions a result reports. */
export function componentAreas(mask: Uint8Array, width: number, height: number): number[] {
  const areas: number[] = [];
  forEachComponent(mask, width, height, (_pixels, area) => areas.push(area));
  return areas;
}
