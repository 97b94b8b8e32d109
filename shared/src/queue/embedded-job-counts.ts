import type { StatementCache } from '../store/statement-cache';
import type { DoneAnalysis, ExportCount, JobCounts, JobState, Stage } from './job-types';

const NO_JOBS: Readonly<Record<JobState, number>> = { queued: 0, running: 0, done: 0, 'not-applicable': 0, failed: 0 };

/**
 * The embedded runner's answers to /metrics, each read from an index (jobs_state, exports_by_destination,
 * jobs_finished) rather than the rows: a scrape every 15 s must cost the same with 100 jobs kept as with 100,000.
 */
export function embeddedJobCounts(statements: StatementCache, now: number): JobCounts {
  const byState = { ...NO_JOBS };
  for (const { state, n } of statements.prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) {
    // Own names only: `in` would take a state named 'constructor'. A state this release does not know is not shown.
    if (Object.hasOwn(byState, state)) byState[state] = n;
  }
  // A queued job whose next attempt is not yet due is waiting for its backoff, not for a free worker.
  const { oldest } = statements.prepare(`SELECT min(created_at) AS oldest FROM jobs WHERE state = 'queued' AND next_attempt_at <= ?`)
    .get(now) as { oldest: number | null };
  const exports = statements.prepare('SELECT destination, state, count(*) AS count FROM exports GROUP BY destination, state ORDER BY destination, state')
    .all() as ExportCount[];
  return { byState, oldestWaitingCreatedAt: oldest, exports };
}

interface DoneRow {
  id: string;
  study_uid: string;
  reason: DoneAnalysis['reason'];
  created_at: number;
  finished_at: number;
  timings: string;
}

/** See JobQueue.analysesDoneSince; not-applicable records are not analyses and are left out. */
export function embeddedAnalysesDoneSince(statements: StatementCache, since: number, limit: number, except: ReadonlySet<string>): DoneAnalysis[] {
  const rows = statements.prepare(`SELECT id, study_uid, json_extract(request, '$.reason') AS reason, created_at, finished_at, timings
    FROM jobs WHERE state = 'done' AND finished_at >= ? AND id NOT IN (SELECT value FROM json_each(?))
    ORDER BY finished_at, id LIMIT ?`).all(since, JSON.stringify([...except]), limit) as DoneRow[];
  return rows.map((r) => ({ id: r.id, studyInstanceUid: r.study_uid, reason: r.reason, createdAt: r.created_at, finishedAt: r.finished_at,
    timingsMs: JSON.parse(r.timings) as Partial<Record<Stage, number>> }));
}
