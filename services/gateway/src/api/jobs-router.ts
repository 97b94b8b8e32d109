import { Router, type Request } from 'express';
import { withTimeout } from '@mipseg/shared/async';
import { assertUid } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { JobQueue, JobState } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { readQueue } from '../queue-read';
import { isResultStored } from '../worklist/ai-status';
import { integerQueryParam, singleQueryParam } from '../worklist/query-params';

/** What the jobs API needs of the pipeline (kept as an interface: the gateway does not run jobs). */
export interface PipelineApi {
  readonly queue: JobQueue;
  analyzeNow(studyInstanceUid: string): Promise<{ kind: string; jobId: string; reason?: string }>;
}

/**
 * The reads whose answers no cache may keep, as the worklist's are not: they name studies, failure reasons and export
 * destinations, which a shared cache would hand to whoever asks next and a browser would keep on disk.
 */
const UNCACHED_READS = ['/jobs', '/studies/:study/results'];

/** The newest jobs /api/studies/{uid}/results lists; `moreJobs` says there are older ones (GET /api/jobs?study= pages them). */
const RESULTS_JOBS = 100;

const STATES: readonly JobState[] = ['queued', 'running', 'done', 'not-applicable', 'failed'];

function paging(req: Request): { limit: number; offset: number } {
  const limit = integerQueryParam(req, 'limit', 100);
  const offset = integerQueryParam(req, 'offset', 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !Number.isSafeInteger(offset) || offset < 0) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `limit (1-1000) and offset (0-${Number.MAX_SAFE_INTEGER}) must be integers`);
  }
  return { limit, offset };
}

function stateParam(req: Request): JobState | undefined {
  const state = singleQueryParam(req, 'state');
  if (state === undefined) return undefined;
  if (!STATES.includes(state as JobState)) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `state must be one of ${STATES.join(', ')}`);
  }
  return state as JobState;
}

/** A repeated study (`study=A&study=A`) is refused, not read as absent, which would list every patient's jobs. */
function studyParam(req: Request): string | undefined {
  const study = singleQueryParam(req, 'study');
  return study === undefined ? undefined : assertUid(study, 'study');
}

/**
 * Longest a "Run again" waits for its study to be planned: the plan reads each series' first file, and waits for a
 * study check of the same study under way; on a slow disk that has no bound. Past it the person is answered 503 and
 * the planning goes on (its job shows in /api/jobs?study=, and a second click joins it).
 */
export const ANALYZE_ANSWER_TIMEOUT_MS = 30_000;

export interface JobsRouterOptions {
  readonly analyzeAnswerTimeoutMs?: number;
}

/** The jobs API: /api/jobs, /api/jobs/{id}, /api/studies/{uid}/results, /api/studies/{uid}/analyze. */
export function jobsRouter(pipeline: PipelineApi, archive: Archive, options: JobsRouterOptions = {}): Router {
  const analyzeTimeoutMs = options.analyzeAnswerTimeoutMs ?? ANALYZE_ANSWER_TIMEOUT_MS;
  const r = Router();
  // Only these paths: the router is mounted at /api beside the worklist's, whose downloads are revalidated instead.
  r.use(UNCACHED_READS, (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  r.get('/jobs', async (req, res) => {
    const study = studyParam(req);
    const state = stateParam(req);
    res.json(await readQueue(pipeline.queue.listJobs({ ...paging(req), ...(study ? { studyInstanceUid: study } : {}), ...(state ? { state } : {}) }), 'the job list'));
  });
  r.get('/jobs/:id', async (req, res) => {
    const job = await readQueue(pipeline.queue.getJob(req.params.id), `job ${req.params.id}`);
    if (!job) throw new MipsegError('MIPSEG_NOT_FOUND', `job ${req.params.id}`);
    res.json(job);
  });
  r.post('/jobs/:id/exports/:destination/retry', async (req, res) => {
    // As for analyze below: a retry asked while Redis is away would hang, then run once it returns.
    await pipeline.queue.ping();
    const { id, destination } = req.params;
    if (!(await pipeline.queue.retryExport(id, destination))) {
      // Told apart for the operator: an export on its way or sent (a second click) is no "not found".
      const existing = (await readQueue(pipeline.queue.getJob(id), `job ${id}`))?.exports.find((e) => e.destination === destination);
      if (existing) throw new MipsegError('MIPSEG_EXPORT_NOT_FAILED', `the export of job ${id} to ${destination} is ${existing.state}`);
      throw new MipsegError('MIPSEG_NOT_FOUND', `an export of job ${id} to ${destination}`);
    }
    res.status(202).json({ retrying: true });
  });
  r.get('/studies/:study/results', async (req, res) => {
    const study = assertUid(req.params.study, 'StudyInstanceUID');
    const newest = await readQueue(pipeline.queue.listJobs({ studyInstanceUid: study, limit: RESULTS_JOBS + 1, offset: 0 }), `the jobs of study ${study}`);
    const waiting = (await readQueue(pipeline.queue.pendingStudies(), 'the studies in their quiet period')).includes(study);
    // Its own query: a study re-sent or run again often has its newest done job past the newest RESULTS_JOBS.
    const [done] = await readQueue(pipeline.queue.listJobs({ studyInstanceUid: study, state: 'done', limit: 1, offset: 0 }), `the results of study ${study}`);
    const latest = done?.result ?? null;
    // A result whose series were deleted (a reader rejected it) is no result: the jobs still say what was done.
    const stored = latest !== null && isResultStored(archive, latest);
    res.json({ studyInstanceUid: study, waitingForInstances: waiting, latestResult: stored ? latest : null, resultDeleted: latest !== null && !stored,
      jobs: newest.slice(0, RESULTS_JOBS), moreJobs: newest.length > RESULTS_JOBS });
  });
  r.post('/studies/:study/analyze', async (req, res) => {
    const study = assertUid(req.params.study, 'StudyInstanceUID');
    if (!archive.index.findRepresentativeInstance({ studyUid: study })) throw new MipsegError('MIPSEG_NOT_FOUND', `study ${study}`);
    // The planner's queue calls wait for Redis to come back (study checks rely on that): asked while it is away,
    // a click would hang and then run, with every other click, once it returns. A person is answered 503 instead.
    await pipeline.queue.ping();
    const planned = await withTimeout(pipeline.analyzeNow(study), analyzeTimeoutMs, () => new MipsegError('MIPSEG_BUSY',
      `planning study ${study} takes longer than ${analyzeTimeoutMs / 1000} s (a slow disk, or a check of the study under way); `
      + 'it goes on: see /api/jobs?study=, and ask again to join it'));
    res.status(202).json(planned);
  });
  return r;
}
