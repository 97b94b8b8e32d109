import { Router, type Request } from 'express';
import { assertUid } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { JobQueue, JobState } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { readQueue } from '../queue-read';
import { isResultStored } from '../worklist/ai-status';
import { singleQueryParam } from '../worklist/query-params';

/** What the jobs API needs of the pipeline (kept as an interface: the gateway does not run jobs). */
export interface PipelineApi {
  readonly queue: JobQueue;
  analyzeNow(studyInstanceUid: string): Promise<{ kind: string; jobId: string; reason?: string }>;
}

const STATES: readonly JobState[] = ['queued', 'running', 'done', 'not-applicable', 'failed'];

/** Safe integers only: SQLite cannot bind a larger offset (`offset=1e20`) as an integer and would throw. */
function paging(req: Request): { limit: number; offset: number } {
  const limit = Number(singleQueryParam(req, 'limit') ?? 100);
  const offset = Number(singleQueryParam(req, 'offset') ?? 0);
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

/** The jobs API: /api/jobs, /api/jobs/{id}, /api/studies/{uid}/results, /api/studies/{uid}/analyze. */
export function jobsRouter(pipeline: PipelineApi, archive: Archive): Router {
  const r = Router();
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
    const ok = await pipeline.queue.retryExport(req.params.id, req.params.destination);
    if (!ok) throw new MipsegError('MIPSEG_NOT_FOUND', `a failed export of job ${req.params.id} to ${req.params.destination}`);
    res.status(202).json({ retrying: true });
  });
  r.get('/studies/:study/results', async (req, res) => {
    const study = assertUid(req.params.study, 'StudyInstanceUID');
    const jobs = await readQueue(pipeline.queue.listJobs({ studyInstanceUid: study, limit: 100, offset: 0 }), `the jobs of study ${study}`);
    const waiting = (await readQueue(pipeline.queue.pendingStudies(), 'the studies in their quiet period')).includes(study);
    const latest = jobs.find((j) => j.state === 'done')?.result ?? null;
    // A result whose series were deleted (a reader rejected it) is no result: the jobs still say what was done.
    const stored = latest !== null && isResultStored(archive, latest);
    res.json({ studyInstanceUid: study, waitingForInstances: waiting, latestResult: stored ? latest : null, resultDeleted: latest !== null && !stored, jobs });
  });
  r.post('/studies/:study/analyze', async (req, res) => {
    const study = assertUid(req.params.study, 'StudyInstanceUID');
    if (!archive.index.findRepresentativeInstance({ studyUid: study })) throw new MipsegError('MIPSEG_NOT_FOUND', `study ${study}`);
    // The planner's queue calls wait for Redis to come back (study checks rely on that): asked while it is away,
    // a click would hang and then run, with every other click, once it returns. A person is answered 503 instead.
    await pipeline.queue.ping();
    res.status(202).json(await pipeline.analyzeNow(study));
  });
  return r;
}
