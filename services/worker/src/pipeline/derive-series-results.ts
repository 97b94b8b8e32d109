import { performance } from 'node:perf_hooks';
import { seededUidSource } from '@mipseg/shared/dicom';
import { componentAreas, type SegmentationModel } from '@mipseg/shared/inference';
import type { Stage } from '@mipseg/shared/queue';
import {
  algorithmFromManifest, readComparedAttributes, readSourceSeriesContext, writeMipInstance, writeSegInstance, type EquipmentIdentity,
} from '../dicom-output';
import { buildMipFromInstances } from '../mip';

/** The stages of an analysis that are CPU work (they run on an analysis thread). */
export type ComputeStage = Extract<Stage, 'decode' | 'suv' | 'mip' | 'inference' | 'write'>;
export type ComputeTimings = Partial<Record<ComputeStage, number>>;

/** A result instance: its PS3.10 bytes and the UIDs that reference it. */
export interface ResultFile {
  readonly bytes: Uint8Array;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/** The model that made a result (its manifest's name and version). */
export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
}

/** What the CPU stages make of one PET series: the MIP and SEG files and what the mask holds. */
export interface SeriesResults {
  readonly mip: ResultFile;
  readonly seg: ResultFile;
  /** Pixels in each tumour component of the mask (one entry per lesion). */
  readonly lesionAreasPx: readonly number[];
  /** The MIP's PixelSpacing, [between rows, between columns] in mm: a pixel's area is their product. */
  readonly mipPixelSpacingMm: readonly [number, number];
  readonly model: ModelIdentity;
  /** Source identifiers longer than their VR, written unchanged into the MIP and SEG (see WrittenInstance). */
  readonly overlongIdentifiers: readonly string[];
  /** Wall-clock milliseconds of each stage. */
  readonly timingsMs: ComputeTimings;
}

/** Which result this is: UIDs derived from the job's seed (random without one) and its version (1 without one). */
export interface ResultIdentity {
  readonly uidSeed?: string | undefined;
  readonly version?: number | undefined;
}

/** The stage the analysis enters next and the timings of the stages done, as the job's progress shows them. */
export type StageReporter = (stage: 'inference' | 'write', timingsMs: ComputeTimings) => void;

/**
 * The CPU stages of one analysis: SUV volume → coronal MIP → segmentation → MIP image and SEG (DICOM).
 * `instances` are the series' PS3.10 files; nothing here reads or stores anything. With `identity.uidSeed` the
 * new UIDs are derived from it (the same seed, the same UIDs), otherwise random.
 */
export async function deriveSeriesResults(
  instances: readonly Uint8Array[], model: SegmentationModel, equipment: EquipmentIdentity, onStage: StageReporter,
  identity: ResultIdentity = {},
): Promise<SeriesResults> {
  const { mip, extras: compared, firstDataSet, timingsMs: mipTimings } =
    buildMipFromInstances(instances, model.manifest.input, readComparedAttributes);
  const timingsMs: ComputeTimings = { ...mipTimings };
  // Before inference: a source the results cannot be written from (no Frame of Reference, an unreadable Modality)
  // fails here, not after the model has run. Its time counts as writing, where it is used.
  const tc = performance.now();
  const context = readSourceSeriesContext(instances, { first: firstDataSet, compared });
  const contextMs = performance.now() - tc;
  onStage('inference', { ...timingsMs });
  const t0 = performance.now();
  const { mask } = await model.segment(mip.input, mip.width, mip.height);
  timingsMs.inference = performance.now() - t0;
  onStage('write', { ...timingsMs });
  const t1 = performance.now() - contextMs;
  const { uidSeed, version: resultVersion } = identity;
  const newUid = uidSeed === undefined ? undefined : seededUidSource(uidSeed); // one source: MIP and SEG draw in turn
  const mipFile = writeMipInstance(mip, context, { equipment, newUid, resultVersion });
  const segFile = writeSegInstance(mask, { sopClassUid: mipFile.sopClassUid, sopInstanceUid: mipFile.sopInstanceUid,
    seriesInstanceUid: mipFile.seriesInstanceUid, geometry: mip }, context,
  { equipment, algorithm: algorithmFromManifest(model.manifest), newUid, resultVersion });
  timingsMs.write = performance.now() - t1;
  return {
    mip: { bytes: mipFile.bytes, sopInstanceUid: mipFile.sopInstanceUid, seriesInstanceUid: mipFile.seriesInstanceUid },
    seg: { bytes: segFile.bytes, sopInstanceUid: segFile.sopInstanceUid, seriesInstanceUid: segFile.seriesInstanceUid },
    lesionAreasPx: componentAreas(mask, mip.width, mip.height),
    mipPixelSpacingMm: mip.pixelSpacingMm,
    model: { name: model.manifest.name, version: model.manifest.version },
    overlongIdentifiers: [...new Set([...mipFile.overlongIdentifiers, ...segFile.overlongIdentifiers])],
    timingsMs,
  };
}
