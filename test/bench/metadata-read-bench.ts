/**
 * Metadata reads (readDicomJson to JSON text) on the event loop against on DicomJsonPool threads: what decides
 * INLINE_READ_MAX_BYTES and DICOM_JSON_THREADS. Prints a table: wall time and the event loop's longest stall while
 * reading the GE whole-body series (267 slices of ~35 KB, METADATA_READS_AT_ONCE at a time, as OHIF opening a study)
 * and one crafted file nested 32 deep; and a cold read of that series' metadata through an Archive.
 *
 *   npx tsx test/bench/metadata-read-bench.ts [series folder] [crafted MiB]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseInstanceHeader, readDicomJson } from '@mipseg/shared/dicom';
import { DicomJsonPool } from '../../shared/src/dicom/dicom-json-pool';
import { createLogger } from '../../shared/src/log';
import { Archive } from '../../shared/src/store/archive';
import { mapConcurrently, METADATA_READS_AT_ONCE } from '../../services/gateway/src/dicomweb/metadata-reads';
import { syntheticPetInstance } from '../pipeline/dicom-output/synthetic-source';
import { explicitElement } from '../support/explicit-elements';
import { longestStallDuring } from '../support/event-loop-stall';
import { withNestedSequences } from '../support/nested-sequences';

const GE_SERIES = '/work/shared/data/pet-dicom/ge-discovery-st-wholebody';

type Read = (bytes: Buffer) => Promise<string>;

/** Runs `work` and says how long it took and the longest the event loop went without running a 1 ms timer. */
async function timed(work: () => Promise<unknown>): Promise<{ wallMs: number; stallMs: number }> {
  const t0 = performance.now();
  const { stallMs } = await longestStallDuring(work, 1);
  return { wallMs: performance.now() - t0, stallMs };
}

const inline: Read = (bytes) => Promise.resolve(JSON.stringify(readDicomJson(bytes, 16, false)));
const pooled = (pool: DicomJsonPool): Read => (bytes) => pool.read({ bytes, bitsAllocated: 16, encapsulated: false });

/** One file at a time, the median of `times` reads (fresh bytes each: the pool moves them). */
async function medianOneAtATime(file: Buffer, read: Read, times: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const bytes = Buffer.from(file);
    const t0 = performance.now();
    await read(bytes);
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(times / 2)] as number;
}

function series(files: readonly string[], read: Read): Promise<unknown> {
  return mapConcurrently(files, METADATA_READS_AT_ONCE, async (file) => read(await readFile(file)));
}

/** The crafted file: a PET instance with a `mib` MiB value nested 32 deep in undefined-length items. */
function crafted(mib: number): Buffer {
  const value = explicitElement(0x0009, 0x1001, 'OB', Buffer.alloc(mib * 1024 * 1024, 0x20), true);
  return withNestedSequences(syntheticPetInstance({ sopInstanceUid: '2.25.5158.1' }), 32, value);
}

/** Removes the metadata an Archive cached beside its instances, so that the next read parses again. */
function removeCachedMetadata(dir: string): void {
  for (const name of readdirSync(join(dir, 'instances'), { recursive: true, encoding: 'utf8' })) {
    if (name.endsWith('.json')) rmSync(join(dir, 'instances', name));
  }
}

type Timing = { wallMs: number; stallMs: number };

/** Cold reads of the series' metadata through an Archive: the first pass starts its threads, the second has them. */
async function throughArchive(files: readonly string[]): Promise<[Timing, Timing]> {
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-metadata-bench-'));
  const archive = await Archive.open(dir, createLogger('silent'));
  try {
    for (const [i, file] of files.entries()) {
      const temp = join(dir, 'tmp', `${i}.part`);
      writeFileSync(temp, readFileSync(file));
      await archive.storeFromTemp(temp);
    }
    const instances = archive.index.listInstances({ studyUid: parseInstanceHeader(readFileSync(files[0] as string)).studyInstanceUid });
    const readAll = (): Promise<Timing> => timed(() => mapConcurrently(instances, METADATA_READS_AT_ONCE, (instance) => archive.readMetadata(instance)));
    const first = await readAll();
    removeCachedMetadata(dir);
    return [first, await readAll()];
  } finally {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const folder = process.argv[2] ?? GE_SERIES;
  const craftedMib = Number(process.argv[3] ?? '2');
  const files = readdirSync(folder).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(folder, f));
  const one = files[0] as string;
  const rows: string[] = ['| reading | wall ms | longest event-loop stall ms |', '| --- | ---: | ---: |'];
  const row = (name: string, r: { wallMs: number; stallMs: number }): number => rows.push(`| ${name} | ${r.wallMs.toFixed(1)} | ${r.stallMs.toFixed(1)} |`);
  const pools = [1, 2].map((size) => new DicomJsonPool({ size }));
  try {
    for (const pool of pools) await series(files, pooled(pool)); // threads started and warm
    await series(files, inline);
    const small = syntheticPetInstance({ sopInstanceUid: '2.25.5158.2' });
    for (const [name, file] of [['one GE slice', readFileSync(one)], ['one synthetic PET instance', small]] as const) {
      rows.push(`| ${name} (${file.length} B), median of 201, inline | ${(await medianOneAtATime(file, inline, 201)).toFixed(2)} | |`);
      rows.push(`| ${name} (${file.length} B), median of 201, on a thread | ${(await medianOneAtATime(file, pooled(pools[1] as DicomJsonPool), 201)).toFixed(2)} | |`);
    }
    for (let round = 1; round <= 2; round++) {
      row(`${files.length} GE slices, ${METADATA_READS_AT_ONCE} at once, inline (round ${round})`, await timed(() => series(files, inline)));
      for (const [i, pool] of pools.entries()) {
        row(`${files.length} GE slices, ${METADATA_READS_AT_ONCE} at once, ${i + 1} thread(s) (round ${round})`, await timed(() => series(files, pooled(pool))));
      }
    }
    const deep = crafted(craftedMib);
    row(`crafted ${craftedMib} MiB nested 32 deep, inline`, await timed(() => inline(Buffer.from(deep))));
    row(`crafted ${craftedMib} MiB nested 32 deep, on a thread`, await timed(() => pooled(pools[1] as DicomJsonPool)(Buffer.from(deep))));
    const [first, again] = await throughArchive(files);
    row(`${files.length} GE slices, cold, Archive.readMetadata, ${METADATA_READS_AT_ONCE} at once, first in the process`, first);
    row(`${files.length} GE slices, cold again (cache removed), Archive.readMetadata`, again);
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
  console.log(rows.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
