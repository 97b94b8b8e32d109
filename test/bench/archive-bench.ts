/**
 * Archive benchmark: mipseg against Orthanc (with its DICOMweb plugin) on the same machine, same client.
 * Stores N copies of the reference PET series in each by STOW-RS, then times a fixed QIDO-RS query set on
 * stores of N × 267 instances. Prints a Markdown table (docs/benchmarks.md keeps the last one measured).
 * Run: `npm run bench:archive -- --copies 38` (see bench-options.ts for every option).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrthanc } from '../support/orthanc';
import { machineSummary, readBenchOptions, type BenchOptions } from './bench-options';
import { comparisonTable, type ComparisonRow } from './bench-report';
import type { BenchTarget } from './bench-target';
import { startMipsegProcess } from './mipseg-child';
import { benchQueries, measureQido, percentile, type Latencies, type QidoQuery } from './qido-latency';
import { makeSeriesCopies, type SeriesCopy } from './series-copies';
import { ingestCopies, type IngestTotals } from './stow-ingest';

type Cleanup = () => Promise<void>;

const log = (message: string) => process.stderr.write(`${message}\n`);
const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');

async function countStudyInstances(dicomwebUrl: string): Promise<number> {
  const res = await fetch(`${dicomwebUrl}/studies?limit=1000`);
  const studies = (await res.json()) as Record<string, { Value?: number[] }>[];
  return studies.reduce((n, s) => n + Number(s['00201208']?.Value?.[0] ?? 0), 0);
}

async function startTargets(options: BenchOptions, cleanups: Cleanup[]): Promise<{ targets: BenchTarget[]; orthancVersion: string }> {
  const mipseg = await startMipsegProcess(options.profileDir);
  cleanups.push(() => mipseg.stop());
  const orthanc = await startOrthanc({ name: 'mipseg-bench-orthanc' });
  cleanups.push(() => orthanc.stop());
  const system = await orthanc.rest<{ Version: string }>('GET', '/system');
  const targets: BenchTarget[] = [
    { name: 'mipseg', dicomwebUrl: mipseg.baseUrl, countInstances: () => countStudyInstances(mipseg.baseUrl) },
    {
      name: 'Orthanc',
      dicomwebUrl: orthanc.dicomwebUrl,
      countInstances: async () => (await orthanc.rest<{ CountInstances: number }>('GET', '/statistics')).CountInstances,
    },
  ];
  return { targets, orthancVersion: system.Version };
}

function median(values: readonly number[]): number {
  return percentile(values, 50);
}

function ingestRows(ingest: Map<string, IngestTotals>): ComparisonRow[] {
  const m = ingest.get('mipseg') as IngestTotals;
  const o = ingest.get('Orthanc') as IngestTotals;
  return [
    { metric: 'STOW ingest', unit: 'instances/s', mipseg: m.instances / m.seconds, orthanc: o.instances / o.seconds, better: 'higher', goal: 2 },
    { metric: 'STOW ingest', unit: 'MB/s', mipseg: m.bytes / 1e6 / m.seconds, orthanc: o.bytes / 1e6 / o.seconds, better: 'higher' },
    { metric: 'STOW one series of 267, median', unit: 's', mipseg: median(m.perCopy), orthanc: median(o.perCopy), better: 'lower' },
  ];
}

function qidoRows(latencies: Latencies, queries: readonly QidoQuery[]): ComparisonRow[] {
  const of = (server: string, query: string) => latencies.get(server)?.get(query) ?? [];
  const rows: ComparisonRow[] = [];
  for (const q of queries) {
    rows.push({ metric: `QIDO ${q.name}, p50`, unit: 'ms', mipseg: percentile(of('mipseg', q.name), 50), orthanc: percentile(of('Orthanc', q.name), 50), better: 'lower' });
    rows.push({ metric: `QIDO ${q.name}, p95`, unit: 'ms', mipseg: percentile(of('mipseg', q.name), 95), orthanc: percentile(of('Orthanc', q.name), 95), better: 'lower', goal: 0.5 });
  }
  const all = (server: string) => queries.flatMap((q) => of(server, q.name));
  rows.push({ metric: 'QIDO all queries pooled, p95', unit: 'ms', mipseg: percentile(all('mipseg'), 95), orthanc: percentile(all('Orthanc'), 95), better: 'lower', goal: 0.5 });
  return rows;
}

async function verifyStored(targets: readonly BenchTarget[], ingest: Map<string, IngestTotals>, expected: number): Promise<void> {
  for (const target of targets) {
    const held = await target.countInstances();
    const totals = ingest.get(target.name) as IngestTotals;
    log(`${target.name}: ${held} instances held, ${totals.failed} failed, HTTP statuses ${[...totals.statuses].join(',')}`);
    if (held !== expected || totals.failed > 0) throw new Error(`${target.name} holds ${held} instances, expected ${expected}`);
  }
}

async function runBench(options: BenchOptions, cleanups: Cleanup[]): Promise<void> {
  const startedAt = new Date();
  const loadBefore = load();
  const workDir = await mkdtemp(join(tmpdir(), 'mipseg-bench-'));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));
  log(`making ${options.copies} copies of ${options.sourceDir} with new UIDs (dcmodify)...`);
  const copyStart = performance.now();
  const copies: SeriesCopy[] = await makeSeriesCopies(options.sourceDir, workDir, options.copies);
  const instances = copies.reduce((n, c) => n + c.files.length, 0);
  log(`  ${instances} instances in ${((performance.now() - copyStart) / 1000).toFixed(1)} s`);

  const { targets, orthancVersion } = await startTargets(options, cleanups);
  log(`STOW-RS of ${copies.length} copies to each server (batch size ${options.batchSize})...`);
  const ingest = await ingestCopies(copies, targets, options.batchSize);
  await verifyStored(targets, ingest, instances);

  const queries = benchQueries(copies);
  let rows = ingestRows(ingest);
  if (options.qidoReps > 0) {
    log(`QIDO-RS: ${queries.length} queries × ${options.qidoReps} measured rounds (+${options.warmup} warm-up) per server...`);
    rows = [...rows, ...qidoRows(await measureQido(targets, queries, options.qidoReps, options.warmup), queries)];
  }
  const header = [
    `Archive benchmark, ${startedAt.toISOString()}; ${machineSummary()}; load average before ${loadBefore}, after ${load()}`,
    `mipseg (own Node process) vs Orthanc ${orthancVersion} + DICOMweb plugin, both on 127.0.0.1, same client`,
    `${copies.length} copies × ${copies[0]?.files.length ?? 0} instances = ${instances} per store; STOW batch ${options.batchSize}; ` +
      `QIDO ${options.qidoReps} measured rounds (+${options.warmup} warm-up)`,
  ];
  process.stdout.write(`\n${header.join('\n')}\n\n${comparisonTable(rows)}\n`);
  for (const q of queries) process.stdout.write(`  ${q.name}: GET {root}${q.path} → ${q.expected} results\n`);
}

async function main(): Promise<void> {
  const options = readBenchOptions(process.argv.slice(2), process.env);
  const cleanups: Cleanup[] = [];
  const cleanUp = async () => {
    for (let c = cleanups.pop(); c; c = cleanups.pop()) await c().catch((err: unknown) => log(`clean-up failed: ${String(err)}`));
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanUp().finally(() => process.exit(143)));
  try {
    await runBench(options, cleanups);
  } finally {
    await cleanUp();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
