import { performance } from 'node:perf_hooks';
import { componentAreas, type SegmentationModel } from '@mipseg/shared/inference';
import type { Logger } from '@mipseg/shared/log';
import type { AnalysisRequest, JobProgress, ResultUids } from '@mipseg/shared/queue';
import {
  algorithmFromManifest, readSourceSeriesContext, writeMipInstance, writeSegInstance, type EquipmentIdentity,
} from '../dicom-output';
import { buildMipFromInstances } from '../mip';
import type { ResultSink } from './result-sink';
import type { StudySource } from './study-source';

export interface AnalysisDeps {
  readonly source: StudySource;
  readonly sink: ResultSink;
  readonly model: SegmentationModel;
  readonly equipment: EquipmentIdentity;
  readonly log: Logger;
}

async function timed<T>(progress: JobProgress, stage: Parameters<JobProgress['timing']>[0], fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  const value = await fn();
  progress.timing(stage, performance.now() - t0);
  return value;
}

/**
 * One analysis, stage by stage: read the series → SUV volume → coronal MIP → segmentation → MIP image and
 * SEG (DICOM) → stored beside the study. Returns the new UIDs and what was found.
 */
export async function analyzeSeries(request: AnalysisRequest, deps: AnalysisDeps, progress: JobProgress): Promise<ResultUids> {
  const { model } = deps;
  await progress.stage('decode', 5);
  const instances = await timed(progress, 'select', () =>
    deps.source.readSeries(request.studyInstanceUid, request.seriesInstanceUid, request.sopInstanceUids));
  const built = buildMipFromInstances(instances, model.manifest.input);
  progress.timing('decode', built.timingsMs.decode);
  progress.timing('suv', built.timingsMs.suv);
  progress.timing('mip', built.timingsMs.mip);
  const { mip } = built;
  await progress.stage('inference', 50);
  const { mask } = await timed(progress, 'inference', () => model.segment(mip.input, mip.width, mip.height));
  await progress.stage('write', 80);
  const { mipInstance, segInstance } = await timed(progress, 'write', () => {
    const context = readSourceSeriesContext(instances);
    const written = writeMipInstance(mip, context, { equipment: deps.equipment });
    const seg = writeSegInstance(mask, { sopClassUid: written.sopClassUid, sopInstanceUid: written.sopInstanceUid,
      seriesInstanceUid: written.seriesInstanceUid, geometry: mip }, context,
    { equipment: deps.equipment, algorithm: algorithmFromManifest(model.manifest) });
    return { mipInstance: written, segInstance: seg };
  });
  await progress.stage('store', 90);
  await timed(progress, 'store', () => deps.sink.store([mipInstance.bytes, segInstance.bytes]));
  const areas = componentAreas(mask, mip.width, mip.height);
  const pixelArea = mip.pixelSpacingMm[0] * mip.pixelSpacingMm[1];
  deps.log.info({ seriesInstanceUid: request.seriesInstanceUid, lesions: areas.length, version: request.version }, 'analysis done');
  return {
    studyInstanceUid: request.studyInstanceUid,
    mipSeriesInstanceUid: mipInstance.seriesInstanceUid,
    mipSopInstanceUid: mipInstance.sopInstanceUid,
    segSeriesInstanceUid: segInstance.seriesInstanceUid,
    segSopInstanceUid: segInstance.sopInstanceUid,
    lesionCount: areas.length,
    tumourAreaMm2: Math.round(areas.reduce((a, b) => a + b, 0) * pixelArea),
    modelName: model.manifest.name,
    modelVersion: model.manifest.version,
  };
}
