import { performance } from 'node:perf_hooks';
import type { Logger } from '@mipseg/shared/log';
import { isMipsegError, MipsegError } from '@mipseg/shared/errors';
import type { AnalysisRequest, JobProgress, ResultUids } from '@mipseg/shared/queue';
import { asBuffer, type SeriesInstances } from './analysis-thread-protocol';
import type { ComputeTimings, ResultIdentity, SeriesResults, StageReporter } from './derive-series-results';
import type { ResultSink } from './result-sink';
import type { StudySource } from './study-source';

/** What runs the CPU stages of a series (the ComputePool). */
export interface SeriesCompute {
  /** `identity`: the job's AnalysisRequest.resultUidSeed (the result UIDs derive from it) and version. */
  deriveSeriesResults(instances: SeriesInstances, onStage: StageReporter, identity?: ResultIdentity): Promise<SeriesResults>;
}

export interface AnalysisDeps {
  readonly source: StudySource;
  readonly sink: ResultSink;
  readonly compute: SeriesCompute;
  readonly log: Logger;
}

async function timed<T>(progress: JobProgress, stage: Parameters<JobProgress['timing']>[0], fn: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  const value = await fn();
  progress.timing(stage, performance.now() - t0);
  return value;
}

const STAGE_PROGRESS = { inference: 50, write: 80 } as const;

function recordTimings(progress: JobProgress, timingsMs: ComputeTimings): void {
  for (const [stage, ms] of Object.entries(timingsMs) as [keyof ComputeTimings, number][]) progress.timing(stage, ms);
}

/**
 * Passes the stages a thread reports on to the job in order, without holding the thread up. A failed
 * progress update fails the analysis once the thread is done, as it did when the stages ran here.
 */
function relayStages(progress: JobProgress): { report: StageReporter; drained: () => Promise<void> } {
  let chain = Promise.resolve();
  let failure: { readonly err: unknown } | undefined;
  const report: StageReporter = (stage, timingsMs) => {
    recordTimings(progress, timingsMs);
    chain = chain.then(() => progress.stage(stage, STAGE_PROGRESS[stage])).catch((err: unknown) => {
      failure ??= { err };
    });
  };
  const drained = async () => {
    await chain;
    if (failure) throw failure.err;
  };
  return { report, drained };
}

async function deriveResults(instances: SeriesInstances, request: AnalysisRequest, deps: AnalysisDeps, progress: JobProgress): Promise<SeriesResults> {
  const relay = relayStages(progress);
  let results: SeriesResults;
  try {
    results = await deps.compute.deriveSeriesResults(instances, relay.report,
      { uidSeed: request.resultUidSeed, version: request.version });
  } catch (err) {
    // The analysis' own error is the one to report; a progress update that failed too is secondary.
    await relay.drained().catch(() => undefined);
    throw err;
  }
  await relay.drained();
  recordTimings(progress, results.timingsMs);
  return results;
}

/** The failure of an analysis whose series was deleted while it ran: not found, for good. */
function seriesDeleted(seriesInstanceUid: string, cause?: unknown): MipsegError {
  return new MipsegError('MIPSEG_NOT_FOUND', `series ${seriesInstanceUid} (deleted during its analysis, so its results were not stored)`,
    cause === undefined ? undefined : { cause });
}

/**
 * One analysis: read the series here, derive the MIP and SEG on an analysis thread (SUV volume → coronal
 * MIP → segmentation → DICOM), store them beside the study here. Returns the new UIDs and what was found.
 */
export async function analyzeSeries(request: AnalysisRequest, deps: AnalysisDeps, progress: JobProgress): Promise<ResultUids> {
  // Reading the series (in queue mode its whole WADO-RS download) shows as `select`, not as decoding.
  await progress.stage('select', 2);
  const { studyInstanceUid, seriesInstanceUid, sopInstanceUids } = request;
  const instances = await timed(progress, 'select', async (): Promise<SeriesInstances> => {
    const files = deps.source.seriesFiles?.(studyInstanceUid, seriesInstanceUid, sopInstanceUids);
    return files ? { files } : deps.source.readSeries(studyInstanceUid, seriesInstanceUid, sopInstanceUids);
  });
  await progress.stage('decode', 5);
  const results = await deriveResults(instances, request, deps, progress);
  if (results.overlongIdentifiers.length > 0) {
    // Kept as the source has them so the PACS and RIS still match the result; dciodvfy will report their lengths.
    deps.log.warn({ seriesInstanceUid, attributes: results.overlongIdentifiers },
      'source identifiers longer than their VR allows were copied unchanged into the MIP and SEG');
  }
  await progress.stage('store', 90);
  await timed(progress, 'store', async () => {
    // A study deleted while it was analysed stays deleted: its MIP and SEG would bring the patient back.
    if (!(await deps.source.hasSeries(studyInstanceUid, seriesInstanceUid))) {
      throw seriesDeleted(seriesInstanceUid);
    }
    // Checked again where they are stored, in the study's gate: a deletion may come between the question and the store.
    try {
      await deps.sink.store([asBuffer(results.mip.bytes), asBuffer(results.seg.bytes)], seriesInstanceUid);
    } catch (err) {
      // The gateway's refusal reaches a queue-mode worker as a refused STOW, which is retried: asked again, a deletion
      // fails the job for good now, as the check above does.
      if (!isMipsegError(err, 'MIPSEG_NOT_FOUND') && !(await deps.source.hasSeries(studyInstanceUid, seriesInstanceUid).catch(() => true))) {
        throw seriesDeleted(seriesInstanceUid, err);
      }
      throw err;
    }
  });
  const areas = results.lesionAreasPx;
  const pixelArea = results.mipPixelSpacingMm[0] * results.mipPixelSpacingMm[1];
  deps.log.info({ seriesInstanceUid: request.seriesInstanceUid, lesions: areas.length, version: request.version,
    timingsMs: results.timingsMs }, 'analysis done');
  return {
    studyInstanceUid: request.studyInstanceUid,
    mipSeriesInstanceUid: results.mip.seriesInstanceUid,
    mipSopInstanceUid: results.mip.sopInstanceUid,
    segSeriesInstanceUid: results.seg.seriesInstanceUid,
    segSopInstanceUid: results.seg.sopInstanceUid,
    lesionCount: areas.length,
    tumourAreaMm2: Math.round(areas.reduce((a, b) => a + b, 0) * pixelArea),
    modelName: results.model.name,
    modelVersion: results.model.version,
  };
}
