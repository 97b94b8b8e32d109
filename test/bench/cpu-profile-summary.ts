/**
 * Summarises a V8 `.cpuprofile` (from `npm run bench:archive -- --profile DIR`): where the time went, by
 * function (self and inclusive) and by file. Run: `npx tsx test/bench/cpu-profile-summary.ts FILE [TOP]`.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const ROOT = resolve(__dirname, '..', '..');

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.startsWith('file://') ? relative(ROOT, url.slice(7)) : url;
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
}

function fileOf(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (!url) return node.callFrame.functionName; // (garbage collector), (program), (idle)
  const file = url.startsWith('file://') ? relative(ROOT, url.slice(7)) : url;
  return file.replace(/^(node_modules\/[^/]+).*/, '$1');
}

function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const node = byId.get(id) as ProfileNode;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    files.set(fileOf(node), (files.get(fileOf(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at) as ProfileNode);
      if (!seen.has(l)) inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
      seen.add(l);
    }
  });
  const table = (title: string, m: Map<string, number>) =>
    [`${title}`, ...[...m].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([k, ms]) => `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`)].join('\n');
  return [`total ${total.toFixed(0)} ms sampled`, table('self time by function:', self), table('self time by file / package:', files),
    table('inclusive time by function:', inclusive)].join('\n\n');
}

const [path, top = '25'] = process.argv.slice(2);
if (!path) throw new Error('usage: cpu-profile-summary.ts FILE.cpuprofile [TOP]');
process.stdout.write(`${summarise(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, Number(top))}\n`);
