/**
 * The start-up look for unfinished replacements (Archive.repairInterruptedReplacements) on an archive with many retired
 * copies, none retired since the last look: what each start pays. Two data folders hold the same N copies (100 per
 * series, one series per study, retired 2 to 366 days ago): one in the earlier layout (retired/instances/…, which every
 * look lists whole, as every look did before the day folders), one in day folders (retired/YYYY-MM-DD/instances/…).
 * Each look runs --reps times on an archive whose mark is an hour old; prints the median and worst time, the folders
 * each look read (readdir) and the retired copies it was given. Also times the first start after an upgrade (moving
 * the earlier layout into a day folder) and its first look. Warm page cache: a cold one costs a seek per folder more.
 *
 *   npx tsx test/bench/retired-look-bench.ts [--copies N] [--reps N]
 */
import { promises as fsPromises, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../shared/src/log';
import { Archive } from '../../shared/src/store';
import { boundedInt, flagsFromArgv } from './cli-options';
import { median } from './pipeline-report';

const USAGE = 'usage: npx tsx test/bench/retired-look-bench.ts [--copies N] [--reps N]';
const DAY_MS = 24 * 3600 * 1000;
const COPIES_PER_SERIES = 100;

/** Counts the folders read, and the retired copies listed, while `work` runs. */
async function counted<T>(archive: Archive, work: () => Promise<T>): Promise<{ result: T; ms: number; folders: number; listed: number }> {
  const readdir = fsPromises.readdir;
  let folders = 0;
  fsPromises.readdir = ((...args: Parameters<typeof readdir>) => {
    folders++;
    return readdir(...args);
  }) as typeof readdir;
  const list = archive.blobs.listRetiredKeys.bind(archive.blobs);
  let listed = 0;
  archive.blobs.listRetiredKeys = async function* (...args: Parameters<typeof list>) {
    for await (const key of list(...args)) {
      listed++;
      yield key;
    }
  };
  try {
    const started = performance.now();
    const result = await work();
    return { result, ms: performance.now() - started, folders, listed };
  } finally {
    fsPromises.readdir = readdir;
    archive.blobs.listRetiredKeys = list;
  }
}

/** Writes N retired copies under `folderOf(retiredAt)`, as retire() names them. */
function writeRetiredCopies(dir: string, copies: number, folderOf: (retiredAt: number) => string): void {
  const now = Date.now();
  const made = new Set<string>();
  for (let i = 0; i < copies; i++) {
    const study = `2.25.7${Math.floor(i / COPIES_PER_SERIES)}`;
    const retiredAt = now - (2 + (i % 365)) * DAY_MS;
    const folder = join(dir, folderOf(retiredAt), 'instances', study, `${study}.1`);
    if (!made.has(folder)) mkdirSync(folder, { recursive: true });
    made.add(folder);
    writeFileSync(join(folder, `${study}.1.${i}.dcm.0123456789abcdef.${retiredAt}`), 'a retired copy');
  }
}

const markHourAgo = (archive: Archive): void => archive.index.setMetaValue('retired-copies-looked-at', String(Date.now() - 3600_000));

interface Row {
  readonly layout: string;
  readonly ms: number[];
  readonly folders: number;
  readonly listed: number;
}

async function looks(archive: Archive, layout: string, reps: number): Promise<Row> {
  const ms: number[] = [];
  let last = { folders: 0, listed: 0 };
  for (let r = 0; r < reps; r++) {
    markHourAgo(archive);
    const run = await counted(archive, () => archive.repairInterruptedReplacements());
    if (run.result.checked !== 0) throw new Error(`a look checked ${run.result.checked} instances; the bench expects none`);
    ms.push(run.ms);
    last = run;
  }
  return { layout, ms, folders: last.folders, listed: last.listed };
}

async function main(): Promise<void> {
  const flags = flagsFromArgv(process.argv.slice(2), { '--copies': 'copies', '--reps': 'reps' }, USAGE);
  const copies = boundedInt(flags.copies ?? '20000', 'copies', 1, 10_000_000, USAGE);
  const reps = boundedInt(flags.reps ?? '5', 'reps', 1, 1000, USAGE);
  const log = createLogger('silent');
  const rows: Row[] = [];
  const extra: string[] = [];

  const earlier = mkdtempSync(join(tmpdir(), 'mipseg-bench-retired-earlier-'));
  const byDay = mkdtempSync(join(tmpdir(), 'mipseg-bench-retired-by-day-'));
  try {
    // Written after the open, which would move it: every look then lists it whole, as every look did before.
    let archive = await Archive.open(earlier, log);
    writeRetiredCopies(earlier, copies, () => 'retired');
    rows.push(await looks(archive, 'earlier layout (as before)', reps));
    archive.close();

    // The first start after an upgrade: the move, then the first look (which reads the moved folder whole, once).
    const started = performance.now();
    archive = await Archive.open(earlier, log);
    extra.push(`first start after the upgrade: open with the move ${(performance.now() - started).toFixed(1)} ms`);
    markHourAgo(archive);
    const first = await counted(archive, () => archive.repairInterruptedReplacements());
    extra.push(`its first look (the moved folder read whole, once): ${first.ms.toFixed(1)} ms, ${first.folders} folders read, ${first.listed} copies listed`);
    archive.close();
    // A start two days later (the clock moved on): the moved folder is one of an older day now.
    const realNow = Date.now;
    Date.now = () => realNow() + 2 * DAY_MS;
    try {
      archive = await Archive.open(earlier, log);
      rows.push(await looks(archive, 'earlier layout, moved, two days later', reps));
      archive.close();
    } finally {
      Date.now = realNow;
    }

    archive = await Archive.open(byDay, log);
    writeRetiredCopies(byDay, copies, (retiredAt) => join('retired', new Date(retiredAt).toISOString().slice(0, 10)));
    rows.push(await looks(archive, 'day folders', reps));
    archive.close();
  } finally {
    rmSync(earlier, { recursive: true, force: true });
    rmSync(byDay, { recursive: true, force: true });
  }

  console.log(`\n${copies} retired copies (${Math.ceil(copies / COPIES_PER_SERIES)} series), none since the mark; ${reps} looks each\n`);
  console.log('| layout | median (ms) | worst (ms) | folders read | copies listed |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(`| ${row.layout} | ${median(row.ms).toFixed(1)} | ${Math.max(...row.ms).toFixed(1)} | ${row.folders} | ${row.listed} |`);
  }
  for (const line of extra) console.log(`\n${line}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
