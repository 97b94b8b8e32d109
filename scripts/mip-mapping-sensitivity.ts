/**
 * How the model's answer on one PET series depends on the SUV → intensity mapping (model.json
 * input.intensity.fromSuv.suvWhite): the series' MIP is rendered with suvWhite scaled by each factor, segmented,
 * and every region above the output threshold is listed with its area, peak probability, bounding box and how
 * many of its pixels the output filter keeps. A robustness check for the model card, not a test.
 *
 *   npx tsx scripts/mip-mapping-sensitivity.ts --series ../shared/data/pet-dicom/ge-discovery-st-wholebody \
 *       [--scales 0.6,0.8,1,1.25,1.5] [--model-dir models/mip-attention-unet] [--min-area 10]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  componentFilterOf, filterComponents, forEachComponent, loadModel, thresholdLogits, type ModelManifest,
} from '../shared/src/inference';
import { buildMipFromInstances } from '../services/worker/src/mip';

function scaledInput(input: ModelManifest['input'], scale: number): ModelManifest['input'] {
  const fromSuv = input.intensity.fromSuv;
  if (fromSuv.suvWhite === null) throw new Error('model.json input.intensity.fromSuv.suvWhite is not set');
  return { ...input, intensity: { ...input.intensity, fromSuv: { ...fromSuv, suvWhite: fromSuv.suvWhite * scale } } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      series: { type: 'string' },
      scales: { type: 'string', default: '0.6,0.8,1,1.25,1.5' },
      'model-dir': { type: 'string', default: resolve(__dirname, '..', 'models', 'mip-attention-unet') },
      'min-area': { type: 'string', default: '10' },
    },
  });
  if (!values.series) throw new Error('--series DIR (a folder of one PET series’ .dcm files) is required');
  const dir = values.series;
  const instances = readdirSync(dir).filter((f) => f.endsWith('.dcm')).map((f) => readFileSync(join(dir, f)));
  const model = await loadModel(values['model-dir'], { threads: 1, executionProvider: 'cpu' });
  const { threshold } = model.manifest.output;
  console.log(`model ${model.manifest.version}; regions above ${threshold} with >= ${values['min-area']} px`);
  console.log('| suvWhite | region px | peak | rows | columns | kept px |\n| --- | ---: | ---: | --- | --- | ---: |');
  try {
    for (const scale of values.scales.split(',').map(Number)) {
      const input = scaledInput(model.manifest.input, scale);
      const { mip } = buildMipFromInstances(instances, input);
      // One inference per scale: the regions and the filter's mask (what segment() returns) from the same logits.
      const logits = await model.outputLogits(model.networkInput(mip.input, mip.width, mip.height), mip.width, mip.height);
      const above = thresholdLogits(logits, threshold);
      const mask = filterComponents(above.slice(), logits, mip.width, mip.height, componentFilterOf(model.manifest.output));
      const label = `× ${scale} (${(input.intensity.fromSuv.suvWhite as number).toFixed(2)})`;
      forEachComponent(above, mip.width, mip.height, (pixels, area) => {
        if (area < Number(values['min-area'])) return;
        let peak = -Infinity, kept = 0, r0 = Infinity, r1 = -1, c0 = Infinity, c1 = -1;
        for (let k = 0; k < area; k++) {
          const p = pixels[k] as number;
          const r = Math.floor(p / mip.width), c = p % mip.width;
          peak = Math.max(peak, logits[p] as number);
          kept += mask[p] as number;
          [r0, r1, c0, c1] = [Math.min(r0, r), Math.max(r1, r), Math.min(c0, c), Math.max(c1, c)];
        }
        console.log(`| ${label} | ${area} | ${(1 / (1 + Math.exp(-peak))).toFixed(4)} | ${r0}–${r1} | ${c0}–${c1} | ${kept} |`);
      });
    }
  } finally {
    await model.release();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
