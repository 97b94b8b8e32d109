/**
 * QIDO-RS searches on the index alone, on an archive of some size: a synthetic index of N studies (one patient each,
 * three series of 30 instances) written straight into its tables, as years of ingest leave it, then opened as the
 * gateway opens it (planner statistics taken), and each search run --reps times. Prints the median and the worst per
 * search. What a search by a patient's ID costs at instance level is what the planner statistics decide.
 *
 *   npx tsx test/bench/index-search-bench.ts [--studies N] [--reps N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { findIndexedAttribute, type IndexedAttribute } from '@mipseg/shared/dicom';
import { SqliteArchiveIndex, type SearchQuery } from '@mipseg/shared/store';
import { boundedInt, flagsFromArgv } from './cli-options';
import { median } from './pipeline-report';

const USAGE = 'usage: npx tsx test/bench/index-search-bench.ts [--studies N] [--reps N]';
const SERIES_PER_STUDY = 3;
const INSTANCES_PER_SERIES = 30;

function populate(path: string, studies: number): void {
  new SqliteArchiveIndex(path).close();
  const db = new Database(path);
  db.transaction(() => {
    const patient = db.prepare('INSERT INTO patients VALUES (?, ?, NULL, ?, \'19500101\', \'M\')');
    const study = db.prepare(`INSERT INTO studies VALUES (?, ?, ?, '101010', '101010.000000', ?, 'Ref^Doc', ?, 'PET WB', NULL, 0, 0)`);
    const series = db.prepare(`INSERT INTO series VALUES (?, ?, ?, 'desc', ?, ?, '101010', '101010.000000', ?, '101010',
      '101010.000000', 'WB', 0, 0)`);
    const instance = db.prepare(`INSERT INTO instances VALUES (?, ?, ?, '1.2.840.10008.5.1.4.1.1.128', '1.2.840.10008.1.2.1', ?,
      128, 128, 16, 1, 'key', 1, 'sha', 0)`);
    for (let k = 0; k < studies; k++) {
      const date = `2023${String(1 + (k % 12)).padStart(2, '0')}${String(1 + (k % 28)).padStart(2, '0')}`;
      patient.run(`P${k}\\`, `P${k}`, `Name${k}^Given`);
      study.run(`2.25.${k}`, `P${k}\\`, date, `A${k}`, `S${k}`);
      for (let j = 0; j < SERIES_PER_STUDY; j++) {
        series.run(`2.25.${k}.${j}`, `2.25.${k}`, ['CT', 'PT', 'SEG'][j], j + 1, date, date);
        for (let n = 0; n < INSTANCES_PER_SERIES; n++) instance.run(`2.25.${k}.${j}.${n}`, `2.25.${k}.${j}`, `2.25.${k}`, n + 1);
      }
    }
  })();
  db.close();
}

const attribute = (keyword: string): IndexedAttribute => {
  const found = findIndexedAttribute(keyword);
  if (!found) throw new Error(`no indexed attribute ${keyword}`);
  return found;
};
const by = (level: SearchQuery['level'], keyword: string, value: string): SearchQuery =>
  ({ level, filters: [{ attribute: attribute(keyword), value }], limit: 100, offset: 0 });

function searches(studies: number): Array<[string, SearchQuery]> {
  const mid = String(Math.floor(studies / 2));
  return [
    ['studies, no filter (first 100)', { level: 'study', filters: [], limit: 100, offset: 0 }],
    ['studies?PatientID', by('study', 'PatientID', `P${mid}`)],
    ['studies?PatientName=Name12*', by('study', 'PatientName', 'Name12*')],
    ['studies?StudyDate range (a month)', by('study', 'StudyDate', '20230101-20230131')],
    ['series?PatientID', by('series', 'PatientID', `P${mid}`)],
    ['series?Modality=SEG (first 100)', by('series', 'Modality', 'SEG')],
    ['instances, no filter (first 100)', { level: 'instance', filters: [], limit: 100, offset: 0 }],
    ['instances?PatientID', by('instance', 'PatientID', `P${mid}`)],
    ['instances?PatientName=Name12*', by('instance', 'PatientName', 'Name12*')],
    ['instances?StudyInstanceUID', by('instance', 'StudyInstanceUID', `2.25.${mid}`)],
  ];
}

function main(): void {
  const flags = flagsFromArgv(process.argv.slice(2), { '--studies': 'studies', '--reps': 'reps' }, USAGE);
  const studies = boundedInt(flags.studies ?? '5000', 'studies', 10, 1_000_000, USAGE);
  const reps = boundedInt(flags.reps ?? '5', 'reps', 1, 1000, USAGE);
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-index-bench-'));
  try {
    const path = join(dir, 'index.sqlite');
    const built = performance.now();
    populate(path, studies);
    const opened = performance.now();
    const index = new SqliteArchiveIndex(path);
    const openMs = performance.now() - opened;
    console.log(`${studies} studies, ${studies * SERIES_PER_STUDY * INSTANCES_PER_SERIES} instances, written in `
      + `${((opened - built) / 1000).toFixed(1)} s; opened (statistics taken) in ${openMs.toFixed(0)} ms; ${reps} runs each\n`);
    console.log('| search | results | median ms | worst ms |');
    console.log('| --- | ---: | ---: | ---: |');
    try {
      for (const [name, query] of searches(studies)) {
        const times: number[] = [];
        let results = 0;
        for (let r = 0; r < reps; r++) {
          const t0 = performance.now();
          results = index.search(query).rows.length;
          times.push(performance.now() - t0);
        }
        console.log(`| ${name} | ${results} | ${median(times).toFixed(1)} | ${Math.max(...times).toFixed(1)} |`);
      }
    } finally {
      index.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
