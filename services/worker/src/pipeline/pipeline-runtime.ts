import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { BullMqJobQueue, EmbeddedJobQueue, StudyCheckOutbox, type JobHandlers, type JobQueue } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { MIPSEG_MANUFACTURER } from '@mipseg/shared/dicom';
import type { EquipmentIdentity } from '../dicom-output';
import { analyzeSeries } from './analyze-series';
import { ComputePool } from './compute-pool';
import { exportResult, exportSettings } from './export-result';
import { planStudy, type PlanOutcome } from './plan-study';
import { ArchiveResultSink, StowResultSink, type ResultSink } from './result-sink';
import { ArchiveStudySource, DicomwebStudySource, type StudySource } from './study-source';
import { studyDeletionRefusal } from './study-deletion-guard';

export interface PipelineRuntime {
  readonly queue: JobQueue;
  /** Plans a study now (POST /api/studies/{uid}/analyze); only where the archive is. */
  analyzeNow(studyInstanceUid: string): Promise<PlanOutcome>;
  /** Why the study may not be deleted now (its analysis is pending), or undefined: see studyDeletionRefusal. */
  studyDeletionRefusal(studyInstanceUid: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface PipelineOptions {
  readonly config: Config;
  readonly log: Logger;
  /** The model folder (model.json + model.onnx). */
  readonly modelDir: string;
  readonly softwareVersion: string;
  /** Present in `mipseg serve`: study checks run here. Absent in `mipseg worker` (queue mode only). */
  readonly archive?: Archive;
  /** Whether this process analyses (loads the model). `mipseg serve` in queue mode leaves it to workers. */
  readonly analyses: boolean;
}

export function createJobQueue(config: Config, log: Logger): JobQueue {
  const p = config.pipeline;
  const common = {
    analysisRetry: { attempts: p.jobAttempts, baseDelayMs: p.jobBackoffMs },
    exportRetry: { attempts: p.exportAttempts, baseDelayMs: p.exportBackoffMs },
    exportDestinations: p.exportDestinations,
    maxStalls: p.jobMaxStalls,
  };
  if (p.redisUrl) return new BullMqJobQueue({ ...common, redisUrl: p.redisUrl, prefix: p.queuePrefix, lockDurationMs: p.jobLockMs }, log);
  return new EmbeddedJobQueue(join(config.dataDir, 'jobs.sqlite'), log, common);
}

/**
 * The equipment the results name. DeviceSerialNumber is the host's name: Type 1 and LO (64 characters) in the SEG, so a
 * blank one is 'unknown' and a longer one (a fully qualified name) is cut, rather than every analysis refused for it.
 */
export function equipmentIdentity(softwareVersion: string, host = hostname()): EquipmentIdentity {
  return { manufacturerModelName: MIPSEG_MANUFACTURER, softwareVersions: softwareVersion, deviceSerialNumber: host.trim().slice(0, 64) || 'unknown' };
}

/** One analysis thread per job this process runs at once, each with its own copy of the model. */
function startComputePool(options: PipelineOptions): Promise<ComputePool> {
  const { config } = options;
  return ComputePool.start({
    size: config.pipeline.workerConcurrency,
    analysisTimeoutMs: config.pipeline.analysisTimeoutMs,
    thread: {
      modelDir: options.modelDir,
      loadOptions: { threads: config.inference.threads, executionProvider: config.inference.executionProvider },
      equipment: equipmentIdentity(options.softwareVersion),
    },
    // The caller's logger already names a component (pipeline, worker): a second `component` binding would write
    // the key twice in each line, and log tools keep either one. The pool is named under a key of its own.
    log: options.log.child({ subcomponent: 'analysis-threads' }),
  });
}

/**
 * Every stored instance restarts its study's quiet period before the sender hears it was stored, and so does an
 * association still open with some of the study (Archive.noteStudyActivity). Embedded, the
 * queue's own insert is that record; in queue mode it is the outbox beside the index, which hands the study to Redis
 * and, at start, hands over what a previous process recorded and could not. Either's log is fsynced with the
 * index's before the answer (Archive.syncAlso).
 */
function trackStudies(archive: Archive, queue: JobQueue, config: Config, log: Logger): StudyCheckOutbox | undefined {
  const quietMs = config.pipeline.quietPeriodMs;
  if (queue.mode === 'embedded') {
    const syncToDisk = queue.syncToDisk?.bind(queue);
    if (syncToDisk) archive.syncAlso(syncToDisk);
    const schedule = (studyInstanceUid: string): void => {
      queue.scheduleStudyCheck(studyInstanceUid, quietMs)
        .catch((err: unknown) => log.error({ err, studyInstanceUid }, 'could not schedule the study check'));
    };
    archive.onInstanceStored((header) => schedule(header.studyInstanceUid));
    archive.onStudyActivity(schedule);
    return undefined;
  }
  const outbox = new StudyCheckOutbox(join(config.dataDir, 'study-check-outbox.sqlite'), queue, quietMs, log);
  archive.syncAlso(() => outbox.syncToDisk());
  archive.onInstanceStored((header) => outbox.record(header.studyInstanceUid));
  archive.onStudyActivity((studyInstanceUid) => outbox.record(studyInstanceUid));
  outbox.flushSoon();
  return outbox;
}

/**
 * Wires the pipeline into a process: the job queue of the configured mode, the study tracker (every stored
 * instance restarts its study's quiet period), and the handlers for the jobs this process takes.
 */
export async function startPipeline(options: PipelineOptions): Promise<PipelineRuntime> {
  const { config, log, archive } = options;
  // Threads first: a model that will not load stops the start before the queue takes any job.
  const compute = options.analyses ? await startComputePool(options) : undefined;
  let queue: JobQueue;
  try {
    queue = createJobQueue(config, log);
  } catch (err) {
    await compute?.close(); // its threads would keep the process alive
    throw err;
  }
  const token = config.authTokens[0];
  const source: StudySource = archive ? new ArchiveStudySource(archive) : new DicomwebStudySource(config.pipeline.gatewayUrl, token);
  const sink: ResultSink = archive ? new ArchiveResultSink(archive) : new StowResultSink(config.pipeline.gatewayUrl, token);
  const plan = (uid: string, force: boolean) => {
    if (!archive) throw new Error('study planning needs the archive (mipseg serve)');
    return planStudy(uid, { archive, queue, log, minPetSlices: config.pipeline.minPetSlices,
      minPetCoverageMm: config.pipeline.minPetCoverageMm }, { force });
  };
  const handlers: JobHandlers = {
    checkStudy: async (uid) => {
      await plan(uid, false);
    },
    analyze: (jobId, request, progress) => {
      if (!compute) throw new Error('this process does not analyse');
      return analyzeSeries(request, { source, sink, compute, log: log.child({ jobId }) }, progress);
    },
    exportResult: (_jobId, result, destination, attempt) =>
      exportResult(result, destination, attempt, { source, log, ...exportSettings(config.pipeline) }),
  };
  const outbox = archive ? trackStudies(archive, queue, config, log) : undefined;
  queue.startProcessing(handlers, { concurrency: config.pipeline.workerConcurrency, studyChecks: archive !== undefined, analyses: options.analyses });
  log.info({ mode: queue.mode, analyses: options.analyses, studyChecks: archive !== undefined, nodeFlags: process.execArgv,
    timeZone: config.timeZone }, 'pipeline started');
  return {
    queue,
    // Logged here too: a person's request may have been answered 503 before the plan ended (jobs-router's limit).
    analyzeNow: (uid) => plan(uid, true).catch((err: unknown) => {
      log.warn({ err, studyInstanceUid: uid }, 'planning an on-demand analysis failed');
      throw err;
    }),
    studyDeletionRefusal: (uid) => studyDeletionRefusal(queue, uid, outbox?.pending() ?? []),
    close: async () => {
      outbox?.close();
      try {
        await queue.close(); // lets running analyses finish
      } finally {
        // Even where the queue's close failed (Redis gone): the threads, each holding a model, would keep the process up.
        await compute?.close();
      }
    },
  };
}
