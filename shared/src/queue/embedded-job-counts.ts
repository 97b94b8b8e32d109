import type { StatementCache } from '../store/statement-cache';
import type { DoneAnalysis, ExportCount, JobCounts, JobState, Stage } from './job-types';

const NO_JOBS: Readonly<Record<JobState, number>> = { queued: 0, running: 0, done: 0, 'not-applicable': 0, failed: 0 };

/**
 * Counts that cost this long to read (a store of ~100,000 jobs or more) are reused for REUSE_SLOW_COUNTS_MS even if
 * the store has changed since: scrapes close together (two Prometheus servers) then pay for one count between them.
 */
const SLOW_COUNT_MS = 10;
const REUSE_SLOW_COUNTS_MS = 5000;

interface CountsRead {
  /** The store's version when they were read: rows changed by this connection, and PRAGMA data_version (others'). */
  readonly version: string;
  readonly at: number;
  readonly costMs: number;
  readonly byState: Readonly<Record<JobState, number>>;
  readonly exports: readonly ExportCount[];
}

/** The last counts read of each store (its StatementCache), for countsOf. */
const lastCounts = new WeakMap<StatementCache, CountsRead>();

function storeVersion(statements: StatementCache): string {
  const { changes } = statements.prepare('SELECT total_changes() AS changes').get() as { changes: number };
  const version = statements.prepare('PRAGMA data_version').pluck().get() as number;
  return `${changes}/${version}`;
}

/**
 * The jobs by state and the exports by destination and state. Each count scans a whole index (jobs_state,
 * exports_by_destination): ~1 ms with 10,000 jobs, 40-300 ms on the event loop with 200,000 (docs/benchmarks.md). So
 * they are read again only when the store has changed since the last read, and a slow read is reused for a few seconds
 * even then.
 */
function countsOf(statements: StatementCache, now: number): CountsRead {
  const version = storeVersion(statements);
  const last = lastCounts.get(statements);
  if (last && (last.version === version || (last.costMs >= SLOW_COUNT_MS && now >= last.at && now - last.at < REUSE_SLOW_COUNTS_MS))) return last;
  const started = performance.now();
  const byState = { ...NO_JOBS };
  for (const { state, n } of statements.prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) {
    // Own names only: `in` would take a state named 'constructor'. A state this release does not know is not shown.
    if (Object.hasOwn(byState, state)) byState[state] = n;
  }
  const exports = statements.prepare('SELECT destination, state, count(*) AS count FROM exports GROUP BY destination, state ORDER BY destination, state')
    .all() as ExportCount[];
  const read = { version, at: now, costMs: performance.now() - started, byState, exports };
  lastCounts.set(statements, read);
  return read;
}

/**
 * The embedded runner's answers to /metrics: the counts as countsOf reads them (a whole index each, not the rows),
 * and the oldest waiting job, read at every call (a retry falls due with no write).
 */
export function embeddedJobCounts(statements: StatementCache, now: number): JobCounts {
  const { byState, exports } = countsOf(statements, now);
  // A queued job whose next attempt is not yet due is waiting for its backoff, not for a free worker.
  const { oldest } = statements.prepare(`SELECT min(created_at) AS oldest FROM jobs WHERE state = 'queued' AND next_attempt_at <= ?`)
    .get(now) as { oldest: number | null };
  return { byState: { ...byState }, oldestWaitingCreatedAt: oldest, exports: [...exports] };
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
