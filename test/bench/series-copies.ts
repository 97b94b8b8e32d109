import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One copy of the reference series: a distinct patient, study date, study and series. */
export interface SeriesCopy {
  readonly index: number;
  readonly patientId: string;
  readonly studyDate: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly files: readonly string[];
  readonly bytes: number;
}

/** A UID under the UUID-derived root 2.25 (PS3.5 B.2): 128 random bits as a decimal integer. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

/** 2000-09-07 plus `days`, as a DICOM DA. */
function studyDateFor(days: number): string {
  const d = new Date(Date.UTC(2000, 8, 7 + days));
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

export function patientIdFor(index: number): string {
  return `BENCH${String(index).padStart(4, '0')}`;
}

async function makeCopy(sources: readonly string[], outDir: string, index: number): Promise<SeriesCopy> {
  const dir = join(outDir, String(index).padStart(4, '0'));
  await mkdir(dir, { recursive: true });
  const files = sources.map((_, i) => join(dir, `${String(i).padStart(4, '0')}.dcm`));
  await Promise.all(sources.map((s, i) => copyFile(s, files[i] as string)));
  const copy = {
    index,
    patientId: patientIdFor(index),
    studyDate: studyDateFor(index),
    studyInstanceUid: newUid(),
    seriesInstanceUid: newUid(),
  };
  // dcmodify's -gst/-gse would give every *file* its own study and series: set those UIDs explicitly and let
  // -gin give each instance a new SOP Instance UID (the File Meta Information follows it).
  await run('dcmodify', ['-nb', '-gin',
    '-m', `(0010,0020)=${copy.patientId}`, '-m', `(0008,0020)=${copy.studyDate}`,
    '-m', `(0020,000D)=${copy.studyInstanceUid}`, '-m', `(0020,000E)=${copy.seriesInstanceUid}`, ...files]);
  const bytes = (await Promise.all(files.map((f) => stat(f)))).reduce((n, s) => n + s.size, 0);
  return { ...copy, files, bytes };
}

/** Makes `count` valid copies of the series in `sourceDir` under `outDir`, two at a time. */
export async function makeSeriesCopies(sourceDir: string, outDir: string, count: number): Promise<SeriesCopy[]> {
  const sources = (await readdir(sourceDir)).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(sourceDir, f));
  if (sources.length === 0) throw new Error(`no .dcm files in ${sourceDir}`);
  const copies: SeriesCopy[] = [];
  for (let i = 0; i < count; i += 2) {
    const indexes = [i, i + 1].filter((n) => n < count);
    copies.push(...(await Promise.all(indexes.map((n) => makeCopy(sources, outDir, n)))));
  }
  return copies;
}
