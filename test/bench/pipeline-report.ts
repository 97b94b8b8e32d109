import type { SeriesMeasure } from './pipeline-jobs';

/** The stages a job times, in pipeline order (jobs API timingsMs). */
export const JOB_STAGES = ['select', 'decode', 'suv', 'mip', 'inference', 'write', 'store'] as const;

/** One series kind's runs in one service process. */
export interface LatencyResult {
  readonly series: string;
  readonly runs: readonly SeriesMeasure[];
  readonly peakRssMb: number;
  readonly goalLatencyMs: number;
  readonly goalRssMb?: number;
}

export interface ThroughputResult {
  /** How the workers run, e.g. "embedded: WORKER_CONCURRENCY in one mipseg serve". */
  readonly mode: string;
  readonly workers: number;
  readonly studies: number;
  /** Per round: first POST analyze → last job finished. */
  readonly spansMs: readonly number[];
  readonly meanJobMs: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const ms = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(0));
const verdict = (met: boolean): string => (met ? 'met' : '**missed**');

/** The field-wise median of warm runs (all but the first), or the single run. */
function warm(runs: readonly SeriesMeasure[]): { label: string; m: SeriesMeasure } {
  const rest = runs.length > 1 ? runs.slice(1) : runs;
  const med = (f: (m: SeriesMeasure) => number | undefined): number => median(rest.map(f).filter((v): v is number => v !== undefined));
  const stagesMs = Object.fromEntries(JOB_STAGES.map((s) => [s, med((m) => m.stagesMs[s])]));
  const exportMs = rest.some((m) => m.exportMs !== undefined) ? med((m) => m.exportMs) : undefined;
  return {
    label: runs.length > 1 ? `warm, median of ${rest.length}` : 'single run',
    m: { instances: rest[0]?.instances ?? 0, bytes: rest[0]?.bytes ?? 0, stowSeconds: med((m) => m.stowSeconds), stagesMs,
      jobMs: med((m) => m.jobMs), pickupMs: med((m) => m.pickupMs), latencyMs: med((m) => m.latencyMs), exportMs },
  };
}

function row(series: string, run: string, m: SeriesMeasure, rss: string, goal: string): string {
  const stages = JOB_STAGES.map((s) => ms(m.stagesMs[s])).join(' | ');
  return `| ${series} | ${run} | ${m.stowSeconds.toFixed(2)} | ${stages} | ${ms(m.jobMs)} | ${ms(m.pickupMs)} | ` +
    `**${ms(m.latencyMs)}** | ${ms(m.exportMs)} | ${rss} | ${goal} |`;
}

/** Per-stage times (ms), latency and peak RSS per series kind: a cold first run and the warm median. */
export function latencyTable(results: readonly LatencyResult[]): string {
  const lines = [
    `| series | run | STOW (s) | ${JOB_STAGES.join(' | ')} | job | pickup | last instance → SEG stored | export | peak RSS (MB) | goal |`,
    `| --- | --- | ---: | ${JOB_STAGES.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | ---: | --- |`,
  ];
  for (const r of results) {
    const w = warm(r.runs);
    const rssOk = r.goalRssMb === undefined || r.peakRssMb <= r.goalRssMb;
    const goal = `≤ ${r.goalLatencyMs} ms${r.goalRssMb ? `, RSS ≤ ${r.goalRssMb} MB` : ''}: ${verdict(w.m.latencyMs <= r.goalLatencyMs && rssOk)}`;
    if (r.runs.length > 1) lines.push(row(r.series, 'cold (1st in process)', r.runs[0] as SeriesMeasure, '', ''));
    lines.push(row(r.series, w.label, w.m, r.peakRssMb.toFixed(0), goal));
  }
  return lines.join('\n');
}

/** Studies per minute and the speed-up of each worker count over one worker of the same mode. */
export function throughputTable(results: readonly ThroughputResult[], goalSpeedUp: number): string {
  const lines = ['| mode | workers | studies | batch time (s), median (rounds) | studies/min | mean job (s) | speed-up | goal |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |'];
  for (const r of results) {
    const one = results.find((o) => o.mode === r.mode && o.workers === 1);
    const span = median(r.spansMs);
    const speedUp = one ? median(one.spansMs) / span : NaN;
    const goal = r.workers === 1 ? '' : `≥ ${goalSpeedUp}×: ${verdict(speedUp >= goalSpeedUp)}`;
    lines.push(`| ${r.mode} | ${r.workers} | ${r.studies} | ${(span / 1000).toFixed(2)} (${r.spansMs.map((s) => (s / 1000).toFixed(2)).join(', ')}) | ` +
      `${((60_000 * r.studies) / span).toFixed(1)} | ${(r.meanJobMs / 1000).toFixed(2)} | ${speedUp.toFixed(2)}× | ${goal} |`);
  }
  return lines.join('\n');
}
