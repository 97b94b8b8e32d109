import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import { resolve } from 'node:path';
import { loadModel, readModelManifest } from '@mipseg/shared/inference';
import { scheduleJobPruning } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { closeGatewayAndWorklist, createWorklist, findOhifDist, GatewayMetrics, jobsRouter, startGateway } from '@mipseg/gateway';
import { startDimseServer } from '@mipseg/dimse';
import { startPipeline } from '@mipseg/worker';
import { startArchiveUpkeep } from './archive-upkeep';
import { closeWithin } from './close-within';

/** How long shutdown waits, once nothing new can arrive, for stores and deletions under way (twice: see close). */
export const ARCHIVE_SETTLE_MS = 5_000;

async function settleArchive(archive: Archive, log: Logger): Promise<boolean> {
  const settled = await archive.settle(ARCHIVE_SETTLE_MS);
  if (!settled) log.error({ timeoutMs: ARCHIVE_SETTLE_MS }, 'stores or deletions still running; going on without them');
  return settled;
}

export interface RunningService {
  readonly httpPort: number;
  readonly dimsePort: number | undefined;
  /** Resolves true when every part closed, false when one did not in time (and was left; it is logged). */
  close(): Promise<boolean>;
}

/** `mipseg serve`: the archive, the DICOMweb gateway and the DIMSE SCP in one process. */
export interface ServeOptions {
  readonly modelDir: string;
  readonly softwareVersion: string;
  /** Store the instance files no index row lists, in series it knows (--index-unlisted-files); else only count them. */
  readonly indexUnlistedFiles?: boolean;
}

/** A part started so far, and how to close it should a later part fail to start. */
interface Started {
  readonly part: string;
  readonly close: () => Promise<unknown>;
}

/**
 * Closes what a failed start had started, last first, each on its own: a port in use (EADDRINUSE) must not leave an
 * embedded analysis claimed by a process about to exit (the next start would count a stall against it), nor, for a
 * caller that goes on (a test), threads and the index open.
 */
async function undoStart(started: Started[], log: Logger): Promise<void> {
  for (const { part, close } of [...started].reverse()) {
    try {
      await close();
    } catch (err) {
      log.error({ err, part }, 'could not close a part after a failed start');
    }
  }
}

/** Runs one shutdown step; a failure is logged and the steps after it still run. Resolves whether it succeeded. */
async function step(part: string, run: () => Promise<unknown>, log: Logger): Promise<boolean> {
  try {
    return (await run()) !== false;
  } catch (err) {
    log.error({ err, part }, `${part} failed to close; going on with the rest of the shutdown`);
    return false;
  }
}

/** The model's name and version for /metrics; a manifest that cannot be read leaves mipseg_model_info out (the analyses say why). */
async function modelInfo(modelDir: string, log: Logger): Promise<{ name: string; version: string } | undefined> {
  try {
    const { name, version } = await readModelManifest(modelDir);
    return { name, version };
  } catch (err) {
    log.warn({ err, modelDir }, 'the model manifest could not be read: /metrics shows no mipseg_model_info');
    return undefined;
  }
}

export async function serve(config: Config, log: Logger, options: ServeOptions): Promise<RunningService> {
  // First: Archive.open locks DATA_DIR for this process, and the job store and study-check outbox that the
  // pipeline opens below live there too, so a second process stops here before it changes anything.
  const archive = await Archive.open(config.dataDir, log.child({ component: 'archive' }));
  const started: Started[] = [{ part: 'index', close: () => Promise.resolve(archive.close()) }];
  try {
    return await startParts(config, log, options, archive, started);
  } catch (err) {
    await undoStart(started, log);
    throw err;
  }
}

async function startParts(config: Config, log: Logger, options: ServeOptions, archive: Archive, started: Started[]): Promise<RunningService> {
  archive.keepFree(config.minFreeDiskBytes);
  // Embedded mode analyses here; in queue mode (REDIS_URL) `mipseg worker` processes do.
  const pipeline = await startPipeline({ config, log: log.child({ component: 'pipeline' }), archive, modelDir: options.modelDir,
    softwareVersion: options.softwareVersion, analyses: !config.pipeline.redisUrl });
  started.push({ part: 'pipeline', close: () => closeWithin('pipeline (job queue and analysis threads)', () => pipeline.close(), log) });
  const jobPruning = config.jobRetentionDays > 0
    ? scheduleJobPruning(pipeline.queue, config.jobRetentionDays, log.child({ component: 'pipeline' }))
    : undefined;
  // Undone after the pipeline, as shutdown does: a queue-mode pruning run ends when the queue closes, not before.
  if (jobPruning) started.splice(started.length - 1, 0, { part: 'job record pruning', close: () => closeWithin('job record pruning', () => jobPruning.stop(), log) });
  const metrics = new GatewayMetrics({ queue: pipeline.queue, exportDestinations: config.pipeline.exportDestinations,
    quietPeriodMs: config.pipeline.quietPeriodMs, softwareVersion: options.softwareVersion, model: await modelInfo(options.modelDir, log), log: log.child({ component: 'metrics' }) });
  const dimse = config.dimse.enabled
    ? await startDimseServer({ config, archive: metrics.ingest.counting(archive, 'cstore'), log: log.child({ component: 'dimse' }) })
    : undefined;
  if (dimse) started.push({ part: 'DIMSE SCP', close: () => dimse.close() });
  // The worklist's "Try a MIP image" loads its own model session on first use (a few MB): this process may not
  // analyse at all (queue mode), and an upload then never waits behind a study's analysis.
  const worklist = createWorklist({ config, archive, queue: pipeline.queue, log: log.child({ component: 'worklist' }),
    webRoot: resolve(__dirname, '..', '..', 'web'), ohifDist: findOhifDist(__dirname),
    loadModel: () => loadModel(options.modelDir, { threads: config.inference.threads, executionProvider: config.inference.executionProvider }) });
  started.push({ part: 'worklist', close: () => worklist.close() });
  const gateway = await startGateway({ config, archive, metrics, log: log.child({ component: 'gateway' }),
    readinessChecks: [{ name: 'queue', check: () => pipeline.queue.ping(), required: false }],
    studyDeletionGuard: (study) => pipeline.studyDeletionRefusal(study),
    publicRouters: [{ path: '/', router: worklist.pageRouter }],
    extraRouters: [{ path: '/api', router: jobsRouter(pipeline, archive) }, { path: '/api', router: worklist.apiRouter }] });
  log.info({ dataDir: config.dataDir, httpPort: gateway.port, dimsePort: dimse?.port, aeTitle: config.dimse.aeTitle,
    auth: config.authTokens.length > 0 }, 'mipseg ready');
  const upkeep = startArchiveUpkeep(archive, { retiredRetentionDays: config.retiredRetentionDays, indexUnlistedFiles: options.indexUnlistedFiles === true },
    log.child({ component: 'archive' }));
  let closing: Promise<boolean> | undefined;
  return {
    httpPort: gateway.port,
    dimsePort: dimse?.port,
    close: () => {
      // In-flight requests and associations finish first; the index closes last. Each step runs whatever the one
      // before it did: a failed close of the gateway must not leave the pipeline's jobs running or the index open.
      closing ??= (async () => {
        const ingestClosed = await step('gateway and DIMSE SCP', () => closeGatewayAndWorklist(gateway, worklist, dimse ? [() => dimse.close()] : []), log);
        // A STOW whose connection the grace period cut may still be storing a part that arrived whole: before the
        // pipeline closes, so that the study check its store records still has a queue (or outbox) to go to.
        // Like a receiver: what it stores records study checks, which need the pipeline's queue (or outbox) still open.
        // Its searches and pruning end before their next file; the rest is looked at at the next start.
        const upkeepStopped = await step('archive upkeep', () => upkeep.stop(), log);
        const ingestSettled = await step('stores under way', () => settleArchive(archive, log), log);
        const pipelineClosed = await step('pipeline', () => closeWithin('pipeline (job queue and analysis threads)', () => pipeline.close(), log), log);
        // After the queue: its close ends a pruning run (which stops between studies, or fails with the connection).
        const pruningStopped = !jobPruning || await step('job record pruning', () => closeWithin('job record pruning', () => jobPruning.stop(), log), log);
        const settled = await step('last stores', () => settleArchive(archive, log), log); // what the pipeline's last analyses stored
        archive.close();
        return ingestClosed && upkeepStopped && pipelineClosed && pruningStopped && ingestSettled && settled;
      })();
      return closing;
    },
  };
}
