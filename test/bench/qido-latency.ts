import type { BenchTarget } from './bench-target';
import type { SeriesCopy } from './series-copies';

/** One QIDO-RS request, as a path and query below the DICOMweb root. */
export interface QidoQuery {
  readonly name: string;
  readonly path: string;
  /** How many results a correct server returns; checked on every server before timing. */
  readonly expected: number;
}

/** The fixed query set, built from the copies that were stored (so the expected counts are known). */
export function benchQueries(copies: readonly SeriesCopy[]): QidoQuery[] {
  const mid = copies[Math.floor(copies.length / 2)] as SeriesCopy;
  const byPrefix = copies.filter((c) => c.patientId.startsWith('BENCH001')).length;
  const dated = copies.slice(5, 16);
  const from = dated[0]?.studyDate ?? '20000101';
  const to = dated[dated.length - 1]?.studyDate ?? '20000101';
  const inRange = copies.filter((c) => c.studyDate >= from && c.studyDate <= to).length;
  return [
    { name: 'studies by PatientID wildcard', path: '/studies?PatientID=BENCH001*', expected: byPrefix },
    { name: 'studies by StudyDate range', path: `/studies?StudyDate=${from}-${to}`, expected: inRange },
    { name: 'study by StudyInstanceUID', path: `/studies?StudyInstanceUID=${mid.studyInstanceUid}`, expected: 1 },
    { name: 'series of a study', path: `/studies/${mid.studyInstanceUid}/series`, expected: 1 },
    {
      name: 'instances of a series, limit=100',
      path: `/studies/${mid.studyInstanceUid}/series/${mid.seriesInstanceUid}/instances?limit=100`,
      expected: 100,
    },
  ];
}

/** Runs one query and returns its latency in ms (request to last byte) and the number of results. */
async function timeQuery(target: BenchTarget, query: QidoQuery): Promise<{ ms: number; count: number }> {
  const started = performance.now();
  const res = await fetch(`${target.dicomwebUrl}${query.path}`, { headers: { Accept: 'application/dicom+json' } });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status === 204) return { ms, count: 0 };
  if (res.status !== 200) throw new Error(`${target.name} ${query.path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return { ms, count: (JSON.parse(text) as unknown[]).length };
}

export type Latencies = Map<string, Map<string, number[]>>;

/**
 * Checks every query's result count on every target, runs `warmup` unmeasured rounds, then `reps` measured
 * rounds; in each round every query runs once on each target, the targets' order alternating.
 */
export async function measureQido(targets: readonly BenchTarget[], queries: readonly QidoQuery[], reps: number,
  warmup: number): Promise<Latencies> {
  const latencies: Latencies = new Map(targets.map((t) => [t.name, new Map(queries.map((q) => [q.name, [] as number[]]))]));
  for (const target of targets) {
    for (const query of queries) {
      const { count } = await timeQuery(target, query);
      if (count !== query.expected) throw new Error(`${target.name}: "${query.name}" gave ${count} results, expected ${query.expected}`);
    }
  }
  for (let round = 0; round < warmup + reps; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const query of queries) {
      for (const target of order) {
        const { ms } = await timeQuery(target, query);
        if (round >= warmup) latencies.get(target.name)?.get(query.name)?.push(ms);
      }
    }
  }
  return latencies;
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
