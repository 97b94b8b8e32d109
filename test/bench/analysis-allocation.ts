/**
 * What one analysis allocates on the JS heap, and where: runs deriveSeriesResults on one series (read as the
 * analysis thread reads it: Buffers from the files) under V8's sampling heap profiler, counting objects the
 * collector has already freed too, and prints the bytes per job, by allocating function (self) and with callees
 * (inclusive). Allocation is what V8's collector spends its helper threads on beside each analysis, so it is the
 * figure behind the two-worker speed-up of `npm run bench:pipeline`; unlike CPU time it hardly depends on load.
 *
 *   npx tsx test/bench/analysis-allocation.ts [--series DIR] [--runs N] [--top N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, relative, resolve } from 'node:path';
import { loadModel } from '@mipseg/shared/inference';
import { deriveSeriesResults } from '../../services/worker/src/pipeline/derive-series-results';
import { boundedInt, flagsFromArgv } from './cli-options';

const ROOT = resolve(__dirname, '..', '..');
const DEFAULT_SERIES = resolve(ROOT, '..', 'shared', 'data', 'pet-dicom', 'ge-discovery-st-wholebody');
const USAGE = 'usage: npx tsx test/bench/analysis-allocation.ts [--series DIR] [--runs N] [--top N]';
const EQUIPMENT = { manufacturerModelName: 'mipseg', softwareVersions: 'bench', deviceSerialNumber: 'analysis-allocation' };
const WARM_UP_RUNS = 3;

interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly selfSize: number;
  readonly children: readonly SamplingNode[];
}

function frameLabel({ functionName, url, lineNumber, columnNumber }: SamplingNode['callFrame']): string {
  const file = url.startsWith('file://') ? relative(ROOT, url.slice(7)) : url;
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}:${columnNumber + 1}`;
}

/** Bytes by function: self (allocated in the frame itself) and inclusive (with everything it called). */
function tally(head: SamplingNode): { total: number; self: Map<string, number>; inclusive: Map<string, number> } {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, stack: readonly string[]): void => {
    const label = frameLabel(node.callFrame);
    self.set(label, (self.get(label) ?? 0) + node.selfSize);
    total += node.selfSize;
    const frames = stack.includes(label) ? stack : [...stack, label];
    for (const f of frames) inclusive.set(f, (inclusive.get(f) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, frames);
  };
  walk(head, []);
  return { total, self, inclusive };
}

async function main(): Promise<void> {
  const flags = flagsFromArgv(process.argv.slice(2), { '--series': 'series', '--runs': 'runs', '--top': 'top' }, USAGE);
  const dir = resolve(flags.series ?? DEFAULT_SERIES);
  const runs = boundedInt(flags.runs ?? '5', 'runs', 1, 100, USAGE);
  const top = boundedInt(flags.top ?? '15', 'top', 1, 200, USAGE);
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no .dcm files in ${dir}\n${USAGE}`);
  const model = await loadModel(join(ROOT, 'models', 'mip-attention-unet'), { threads: 1, executionProvider: 'cpu' });
  const session = new Session();
  session.connect();
  try {
    const analyse = () => deriveSeriesResults(files.map((f) => readFileSync(f)), model, EQUIPMENT, () => undefined);
    for (let i = 0; i < WARM_UP_RUNS; i++) await analyse();
    await session.post('HeapProfiler.startSampling',
      { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    for (let i = 0; i < runs; i++) await analyse();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    const { total, self, inclusive } = tally(profile.head);
    const mb = (bytes: number) => (bytes / runs / 1e6).toFixed(2);
    const rows = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([label, bytes]) => `| ${mb(bytes)} | \`${label}\` |`).join('\n');
    console.log(`JS heap allocated per job, ${files.length} instances (${dir}), mean of ${runs} jobs: **${mb(total)} MB**\n`);
    console.log(`| MB per job, self | function |\n| ---: | --- |\n${rows(self)}\n`);
    console.log(`| MB per job, inclusive | function |\n| ---: | --- |\n${rows(inclusive)}`);
  } finally {
    session.disconnect();
    await model.release();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
