import { readFile } from 'node:fs/promises';
import type { ModelInput } from '@mipseg/shared/inference';
import { readMipPng, syntheticPetSeries } from '../support/synthetic-pet';
import { makeSeriesCopies } from './series-copies';

/** A series to send: its study and its PS3.10 instances in memory. */
export interface BenchSeries {
  readonly label: string;
  readonly studyInstanceUid: string;
  readonly instances: Buffer[];
}

/** `count` copies of the GE series, each its own study (dcmodify, as the archive benchmark makes them). */
export async function geSeriesCopies(geDir: string, workDir: string, count: number): Promise<BenchSeries[]> {
  const copies = await makeSeriesCopies(geDir, workDir, count);
  return Promise.all(copies.map(async (c) => ({
    label: 'GE', studyInstanceUid: c.studyInstanceUid, instances: await Promise.all(c.files.map((f) => readFile(f))),
  })));
}

/** The top `rows` rows of an image (a whole-body MIP cut at the thighs); throws if it has fewer. */
function topRows(image: ModelInput, rows: number): ModelInput {
  if (image.height < rows) throw new Error(`the source image has ${image.height} rows, ${rows} needed`);
  return { width: image.width, height: rows, data: image.data.slice(0, image.width * rows) };
}

/** The large case: 400 × 400 axial pixels × 600 slices (2 mm), made from a DM i AI MIP by the synthetic generator. */
export const LARGE_SHAPE = Object.freeze({ columns: 400, rows: 400, slices: 600 });

export function largeSyntheticSeries(sourcePng: string, suvWhite: number, pixelSpacingMm: number): BenchSeries {
  const image = topRows(readMipPng(sourcePng), LARGE_SHAPE.slices);
  if (image.width !== LARGE_SHAPE.columns) throw new Error(`the source image is ${image.width} wide, ${LARGE_SHAPE.columns} needed`);
  const series = syntheticPetSeries(image, { suvWhite, pixelSpacingMm, apRows: LARGE_SHAPE.rows, patientId: 'BENCH-LARGE' });
  return { label: 'synthetic', studyInstanceUid: series.studyInstanceUid, instances: series.instances };
}
