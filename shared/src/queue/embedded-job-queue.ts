import type Database from 'better-sqlite3';
import { DEFAULT_JOB_MAX_STALLS, MAX_QUIET_PERIOD_MS } from '../config/config';
import { openSqliteDatabase } from '../store/sqlite-database';
import { StatementCache } from '../store/statement-cache';
import { WalSync } from '../store/wal-sync';
import { MipsegError, toMipsegError } from '../errors';
import { RepeatedFailureLog, type Logger } from '../log';
import { embeddedAnalysesDoneSince, embeddedJobCounts } from './embedded-job-counts';
import { addMissingColumns, EMBEDDED_JOBS_SCHEMA } from './embedded-schema';
import type { JobHandlers, JobQueue, ProcessingOptions } from './job-queue';
import { toJobRecord, type ExportRow, type JobRow } from './job-row';
import { prunableJobIds } from './job-retention';
import type {
  AnalysisPlan, AnalysisRequest, DoneAnalysis, ExportState, JobCounts, JobFilter, JobRecord, JobState, ResultInstances, ResultUids, Stage,
} from './job-types';
import { supersededExportDetail } from './newest-analysis';
import { summariseRequest, type StoredAnalysisRequest } from './request-summary';
import { backoffDelay, EXPORTS_PER_DESTINATION, isUnrecoverable, MAX_BACKOFF_MS, STUDY_CHECK_RETRY_MS, type RetryPolicy } from './retry-policy';

/**
 * next_attempt_at of an export no tick may start: one being sent (claimed, so that the next tick does not
 * start it again), sent, or failed.
 */
const NOT_DUE = Number.MAX_SAFE_INTEGER;
/**
 * A new job's created_at (parameters: now, now, its study): now, unless that is before the study's newest job's (the
 * wall clock stepped back: NTP correcting a clock that ran ahead), then a millisecond after it, so that the job made
 * last is still its study's newest in the list, as its latest result and for the planner's look at the verdicts since.
 * Jobs made in one millisecond keep BullMQ's order (by id). Read through jobs_study.
 */
const CREATED_IN_ORDER = `(SELECT CASE WHEN ? >= coalesce(max(created_at), 0) THEN ? ELSE max(created_at) + 1 END
  FROM jobs WHERE study_uid = ?)`;
/**
 * The runner's due times: the column of each table that holds one, the rows that wait on it (an export being sent or
 * done has NOT_DUE), and which of its delays sets it (a study's quiet period, or a retry's backoff).
 */
const DUE_TIMES = [
  { table: 'pending_studies', column: 'due_at', waiting: 'TRUE', delay: 'study' },
  { table: 'jobs', column: 'next_attempt_at', waiting: "state = 'queued'", delay: 'retry' },
  { table: 'exports', column: 'next_attempt_at', waiting: `state IN ('pending', 'retrying') AND next_attempt_at < ${NOT_DUE}`, delay: 'retry' },
] as const;
/** The longest delay a Node timer takes; a longer one fires at once (with a TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A step back of the wall clock this large, between two ticks, moves the due times back with it. */
const CLOCK_STEP_MS = 1000;

/**
 * A write that failed (a full disk) may well fail again: an analysis or export whose end could not be written
 * waits this long before it runs again, rather than running at every tick while the disk stays full.
 */
export const UNRECORDED_RETRY_MS = 10_000;

/** Why an analysis whose process ended while running it more than JOB_MAX_STALLS times is failed (queue mode's words). */
function stalledTooOften(stalls: number): MipsegError {
  return new MipsegError('MIPSEG_INTERNAL', `job stalled more than allowable limit: the process stopped while running it (killed, out of ` +
    `memory, or a crash) each time it was taken up (${stalls} times); if mipseg was not restarted, the input may be what brings it ` +
    'down (see the log). Not run again: POST /api/studies/{uid}/analyze to try again');
}

/** A job's place among its study's jobs, 1 for the newest: listJobs' order (created_at DESC, id) within each study. */
const RANK_IN_STUDY = 'ROW_NUMBER() OVER (PARTITION BY study_uid ORDER BY created_at DESC, id) AS rank';

/** An export due to be sent, with its job's result (as stored: JSON) and study (DUE_EXPORTS_SQL). */
type DueExportRow = ExportRow & { readonly result: string; readonly study_uid: string };

export interface EmbeddedQueueOptions {
  readonly analysisRetry: RetryPolicy;
  readonly exportRetry: RetryPolicy;
  readonly exportDestinations: readonly string[];
  /**
   * How often a start may find an analysis running (its process ended while running it) before it fails it instead
   * (JOB_MAX_STALLS, counted apart from the attempts, as queue mode counts stalls); default DEFAULT_JOB_MAX_STALLS.
   */
  readonly maxStalls?: number;
  readonly pollMs?: number;
  /** Default STUDY_CHECK_RETRY_MS. */
  readonly studyCheckRetryMs?: number;
  /** How long after its end could not be written an analysis or export is tried again; default UNRECORDED_RETRY_MS. */
  readonly unrecordedRetryMs?: number;
}

/**
 * The job runner of `npm start`: no Redis, state in SQLite so that a restart neither loses nor repeats
 * a job. Jobs found "running" at start-up were interrupted by a crash and run again.
 *
 * Work is started by a poll of the database (every `pollMs`) and, sooner, by the events that make it due:
 * a study check's due time, a new analysis job, an analysis that ends and frees its slot. The poll stays
 * as the safety net (and picks up what a restart left), since SQLite, not a timer, is the record.
 * Exports being sent when the process died are sent again at start-up, as interrupted analyses run again.
 */
/**
 * Exports due to be sent, the longest due first (read through the exports_due index, see embedded-schema.ts), at most
 * the second parameter per destination: no more can be started at once (EXPORTS_PER_DESTINATION). A backlog for a
 * PACS that was down for hours is thousands of rows; every tick (five a second) read them whole, results included.
 */
export const DUE_EXPORTS_SQL = `SELECT e.*, j.result, j.study_uid FROM
    (SELECT job_id, destination, row_number() OVER (PARTITION BY destination ORDER BY next_attempt_at, job_id) AS nth
      FROM exports WHERE state IN ('pending', 'retrying') AND next_attempt_at <= ?) d
  JOIN exports e ON e.job_id = d.job_id AND e.destination = d.destination JOIN jobs j ON j.id = e.job_id
  WHERE d.nth <= ? ORDER BY e.next_attempt_at, e.job_id`;

export class EmbeddedJobQueue implements JobQueue {
  readonly mode = 'embedded' as const;
  private readonly db: Database.Database;
  private readonly statements: StatementCache;
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private handlers: JobHandlers | undefined;
  private concurrency = 1;
  private studyChecks = true;
  private analyses = true;
  private activeAnalyses = 0;
  private ticking: Promise<void> | undefined;
  private tickAgain = false;
  /** The pass over due study checks under way, apart from the ticks (see requestStudyChecks). */
  private checking: Promise<void> | undefined;
  private checkAgain = false;
  private closing = false;
  private readonly studyCheckTimers = new Map<string, NodeJS.Timeout>();
  /** A full disk fails every tick, five a second: logged once, summarised, and once when ticks work again. */
  private readonly tickFailures: RepeatedFailureLog;
  /**
   * Analyses (job ids) and exports (job id and destination) that ended but whose end could not be written (a full
   * disk): the database still says running, or claimed, which nothing else would ever change before a restart.
   * A later tick makes them due again; they then run or are sent again, which gives the same result.
   */
  private readonly unrecordedAnalyses = new Set<string>();
  private readonly unrecordedExports = new Map<string, { readonly jobId: string; readonly destination: string }>();
  private readonly recordFailures: RepeatedFailureLog;
  /** Exports being sent, by destination (at most EXPORTS_PER_DESTINATION each). */
  private readonly exportsSending = new Map<string, number>();
  private readonly wal: WalSync;

  constructor(path: string, private readonly log: Logger, private readonly options: EmbeddedQueueOptions) {
    this.tickFailures = new RepeatedFailureLog(log, { message: 'job runner tick failed', recoveredMessage: 'job runner ticks again' });
    this.recordFailures = new RepeatedFailureLog(log, { message: 'the end of a job could not be written; it will run again',
      recoveredMessage: 'job states are written again' });
    this.db = openSqliteDatabase(path, EMBEDDED_JOBS_SCHEMA);
    try {
      addMissingColumns(this.db, path);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.statements = new StatementCache(this.db);
    this.db.pragma('synchronous = NORMAL');
    this.wal = new WalSync(`${path}-wal`);
    this.summariseFinishedRequests();
  }

  /**
   * Jobs finished by releases that kept the whole request: their instance lists go (the summary is what the jobs
   * API shows in any case). A disk too full for it does not stop the runner: the next start tries again.
   */
  private summariseFinishedRequests(): void {
    try {
      const { changes } = this.db.prepare(`UPDATE jobs SET request = json_set(json_remove(request, '$.sopInstanceUids'),
          '$.instanceCount', json_array_length(request, '$.sopInstanceUids'))
        WHERE state IN ('done', 'failed') AND request IS NOT NULL AND json_type(request, '$.sopInstanceUids') = 'array'`).run();
      if (changes > 0) this.log.info({ jobs: changes }, 'finished jobs no longer keep their instance lists');
    } catch (err) {
      this.log.warn({ err }, 'could not drop the instance lists of finished jobs; trying again at the next start');
    }
  }

  syncToDisk(): Promise<void> {
    return this.wal.sync();
  }

  scheduleStudyCheck(studyInstanceUid: string, delayMs: number): Promise<void> {
    const now = Date.now();
    this.statements.prepare(`INSERT INTO pending_studies VALUES (?, ?, ?)
      ON CONFLICT(study_uid) DO UPDATE SET due_at = excluded.due_at, updated_at = excluded.updated_at`)
      .run(studyInstanceUid, now + delayMs, now);
    this.wakeForStudyCheck(studyInstanceUid, now + delayMs);
    return Promise.resolve();
  }

  /** Ticks when the study's check is due, instead of up to a poll later; a later instance re-arms it. */
  private wakeForStudyCheck(studyInstanceUid: string, dueAt: number): void {
    clearTimeout(this.studyCheckTimers.get(studyInstanceUid));
    if (this.closing) return;
    // The timer's clock and Date.now() can disagree by a millisecond: re-arm until the database agrees it is due.
    const timer = setTimeout(() => {
      this.studyCheckTimers.delete(studyInstanceUid);
      if (Date.now() < dueAt) this.wakeForStudyCheck(studyInstanceUid, dueAt);
      else this.requestTick();
    }, Math.min(MAX_TIMER_MS, Math.max(0, dueAt - Date.now())));
    timer.unref(); // the poll holds the process open while the runner runs; close() clears these
    this.studyCheckTimers.set(studyInstanceUid, timer);
  }

  pendingStudies(): Promise<string[]> {
    const rows = this.statements.prepare('SELECT study_uid FROM pending_studies ORDER BY due_at').all() as { study_uid: string }[];
    return Promise.resolve(rows.map((r) => r.study_uid));
  }

  enqueueAnalysis(jobId: string, plan: AnalysisPlan): Promise<{ created: true; version: number } | { created: false }> {
    // Read and insert with no await between them: this process is the only writer of jobs.sqlite.
    const latest = this.statements.prepare('SELECT MAX(version) AS v FROM jobs WHERE series_uid = ?').get(plan.seriesInstanceUid) as { v: number | null };
    const request: AnalysisRequest = { ...plan, version: (latest.v ?? 0) + 1 };
    const now = Date.now();
    const info = this.statements.prepare(`INSERT OR IGNORE INTO jobs (id, study_uid, series_uid, state, created_at, request, version)
      VALUES (?, ?, ?, 'queued', ${CREATED_IN_ORDER}, ?, ?)`)
      .run(jobId, request.studyInstanceUid, request.seriesInstanceUid, now, now, request.studyInstanceUid, JSON.stringify(request),
        request.version);
    if (info.changes !== 1) return Promise.resolve({ created: false });
    this.requestTick();
    return Promise.resolve({ created: true, version: request.version });
  }

  recordNotApplicable(jobId: string, studyInstanceUid: string, reason: string): Promise<void> {
    const now = Date.now();
    this.statements.prepare(`INSERT OR IGNORE INTO jobs (id, study_uid, state, created_at, finished_at, failure_code, failure_reason)
      VALUES (?, ?, 'not-applicable', ${CREATED_IN_ORDER}, ?, 'MIPSEG_NOT_APPLICABLE', ?)`)
      .run(jobId, studyInstanceUid, now, now, studyInstanceUid, now, reason);
    return Promise.resolve();
  }

  hasJob(id: string): Promise<boolean> {
    return Promise.resolve(this.statements.prepare('SELECT 1 FROM jobs WHERE id = ?').get(id) !== undefined);
  }

  getJob(id: string): Promise<JobRecord | undefined> {
    const row = this.statements.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return Promise.resolve(row ? this.withExports([row])[0] : undefined);
  }

  listJobs(filter: JobFilter): Promise<JobRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.studyInstanceUid) {
      where.push('study_uid = ?');
      params.push(filter.studyInstanceUid);
    }
    if (filter.state) {
      where.push('state = ?');
      params.push(filter.state);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id LIMIT ? OFFSET ?`;
    const rows = this.statements.prepare(sql).all(...params, filter.limit, filter.offset) as JobRow[];
    return Promise.resolve(this.withExports(rows));
  }

  latestJobsByStudy(studyInstanceUids: readonly string[]): Promise<Map<string, JobRecord>> {
    const latest = new Map<string, JobRecord>();
    if (studyInstanceUids.length === 0) return Promise.resolve(latest);
    const rows = this.statements.prepare(`SELECT * FROM (SELECT j.*, ${RANK_IN_STUDY}
      FROM jobs j WHERE study_uid IN (SELECT value FROM json_each(?))) WHERE rank = 1`).all(JSON.stringify(studyInstanceUids)) as JobRow[];
    for (const record of this.withExports(rows)) latest.set(record.studyInstanceUid, record);
    return Promise.resolve(latest);
  }

  latestDoneResults(): Promise<Map<string, ResultInstances>> {
    // The two UIDs taken out by SQLite: parsing every result in JavaScript cost more than the rest of the filter.
    const rows = this.statements.prepare(`SELECT study_uid, json_extract(result, '$.mipSopInstanceUid') AS mip,
      json_extract(result, '$.segSopInstanceUid') AS seg FROM (SELECT study_uid, state, result, ${RANK_IN_STUDY} FROM jobs)
      WHERE rank = 1 AND state = 'done'
      AND result IS NOT NULL`).all() as { study_uid: string; mip: string; seg: string }[];
    return Promise.resolve(new Map(rows.map((r) => [r.study_uid, { mipSopInstanceUid: r.mip, segSopInstanceUid: r.seg }])));
  }

  studiesWithLatestJobState(state: JobState): Promise<string[]> {
    const rows = this.statements.prepare(`SELECT study_uid FROM (SELECT study_uid, state, ${RANK_IN_STUDY} FROM jobs)
      WHERE rank = 1 AND state = ?`)
      .all(state) as { study_uid: string }[];
    return Promise.resolve(rows.map((r) => r.study_uid));
  }

  async pruneFinishedJobs(finishedBefore: number): Promise<number> {
    // A study with one job keeps it (its newest): only studies with several, one of them finished before the time.
    const studies = this.statements.prepare(`SELECT study_uid FROM jobs GROUP BY study_uid
      HAVING COUNT(*) > 1 AND MIN(CASE WHEN state IN ('done', 'failed', 'not-applicable') THEN finished_at END) < ?`)
      .all(finishedBefore) as { study_uid: string }[];
    let removed = 0;
    // A study at a time, read and deleted with no await between: nothing changes its jobs in between.
    const pruneStudy = this.db.transaction((studyUid: string) => {
      const rows = this.statements.prepare('SELECT * FROM jobs WHERE study_uid = ?').all(studyUid) as JobRow[];
      const ids = JSON.stringify(prunableJobIds(this.withExports(rows), finishedBefore));
      this.statements.prepare('DELETE FROM exports WHERE job_id IN (SELECT value FROM json_each(?))').run(ids);
      return this.statements.prepare('DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))').run(ids).changes;
    });
    for (const { study_uid: studyUid } of studies) {
      if (this.closing) break;
      removed += pruneStudy(studyUid);
      // Between studies the event loop runs: a first run over years of jobs must not hold up the service's start.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return removed;
  }

  jobCounts(): Promise<JobCounts> {
    return Promise.resolve(embeddedJobCounts(this.statements, Date.now()));
  }

  analysesDoneSince(since: number, limit: number, except: ReadonlySet<string>): Promise<DoneAnalysis[]> {
    return Promise.resolve(embeddedAnalysesDoneSince(this.statements, since, limit, except));
  }

  /** The jobs' records with their exports, read in one query for all of them and grouped once (not per job). */
  private withExports(rows: readonly JobRow[]): JobRecord[] {
    if (rows.length === 0) return [];
    const exports = this.statements.prepare('SELECT * FROM exports WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY destination')
      .all(JSON.stringify(rows.map((r) => r.id))) as ExportRow[];
    const byJob = new Map<string, ExportRow[]>();
    for (const e of exports) {
      const ofJob = byJob.get(e.job_id);
      if (ofJob) ofJob.push(e);
      else byJob.set(e.job_id, [e]);
    }
    return rows.map((row) => toJobRecord(row, byJob.get(row.id) ?? []));
  }

  startProcessing(handlers: JobHandlers, options: ProcessingOptions): void {
    this.handlers = handlers;
    this.concurrency = options.concurrency;
    this.studyChecks = options.studyChecks;
    this.analyses = options.analyses;
    this.takeBackInterruptedAnalyses();
    // Still claimed, so still being sent when the last process ended: nothing else would ever release them.
    const unsent = this.statements.prepare(`UPDATE exports SET next_attempt_at = ? WHERE state IN ('pending', 'retrying') AND next_attempt_at = ?`)
      .run(Date.now(), NOT_DUE);
    if (unsent.changes) this.log.warn({ exports: unsent.changes }, 'sending again exports interrupted by a restart');
    this.makeDueWhatAWrongClockPutOff();
    this.timer = setInterval(() => this.requestTick(), this.options.pollMs ?? 200);
  }

  /**
   * Due times set while the wall clock ran ahead (a hardware clock set wrong, a VM restored from a snapshot) and then
   * stepped back while mipseg was down: a study check, retry or export due further ahead than any delay mipseg gives
   * is made due now, not left waiting for the clock to catch up (days, for a wrong month).
   */
  private makeDueWhatAWrongClockPutOff(): void {
    const now = Date.now();
    const unrecorded = this.options.unrecordedRetryMs ?? UNRECORDED_RETRY_MS;
    const studyLimit = now + MAX_QUIET_PERIOD_MS + Math.max(this.options.studyCheckRetryMs ?? STUDY_CHECK_RETRY_MS, unrecorded);
    // The longest wait backoffDelay gives: its cap, or a base above the cap (JOB_BACKOFF_MS, EXPORT_BACKOFF_MS up to an hour).
    const retryLimit = now + Math.max(MAX_BACKOFF_MS, this.options.analysisRetry.baseDelayMs, this.options.exportRetry.baseDelayMs, unrecorded);
    const limits = { study: studyLimit, retry: retryLimit };
    const [studies = 0, jobs = 0, sends = 0] = DUE_TIMES.map(({ table, column, waiting, delay }) =>
      this.statements.prepare(`UPDATE ${table} SET ${column} = ? WHERE ${waiting} AND ${column} > ?`).run(now, limits[delay]).changes);
    if (studies + jobs + sends > 0) {
      this.log.warn({ studies, jobs, exports: sends }, 'due further ahead than any delay: the clock was ahead when they were timed; made due now');
    }
  }

  /** The wall and monotonic clocks at the last tick: a wall clock that went back between two ticks was stepped. */
  private lastClocks: { wall: number; monotonic: number } | undefined;

  /**
   * Moves the due times back by as much as the wall clock stepped back (NTP correcting a clock that ran ahead), so
   * that what was due in a quiet period is due in what remains of it, not a quiet period plus the step.
   */
  private followClockStepBack(): void {
    const clocks = { wall: Date.now(), monotonic: performance.now() };
    const last = this.lastClocks;
    this.lastClocks = clocks;
    if (!last) return;
    const stepMs = Math.round((clocks.monotonic - last.monotonic) - (clocks.wall - last.wall));
    if (stepMs < CLOCK_STEP_MS) return;
    const { wall } = clocks;
    for (const { table, column, waiting } of DUE_TIMES) {
      this.statements.prepare(`UPDATE ${table} SET ${column} = max(?, ${column} - ?) WHERE ${waiting} AND ${column} > ?`).run(wall, stepMs, wall);
    }
    this.log.warn({ stepMs }, 'the wall clock stepped back: study checks, retries and exports due are moved back with it');
    const rows = this.statements.prepare('SELECT study_uid, due_at FROM pending_studies').all() as { study_uid: string; due_at: number }[];
    for (const row of rows) this.wakeForStudyCheck(row.study_uid, row.due_at);
  }

  /** Runs a tick now, or right after the one running (which may have passed the work that just became due). */
  private requestTick(): void {
    if (!this.handlers || this.closing) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    // Started a microtask later, so that `ticking` is set before anything the tick does can ask for another.
    this.ticking = Promise.resolve().then(() => this.tick()).finally(() => {
      this.ticking = undefined;
      if (!this.tickAgain) return;
      this.tickAgain = false;
      this.requestTick();
    });
  }

  private tick(): void {
    if (!this.handlers || this.closing) return;
    try {
      this.followClockStepBack();
      this.makeUnrecordedDue();
      if (this.analyses) {
        this.startDueAnalyses(this.handlers);
        this.startDueExports(this.handlers);
      }
      if (this.studyChecks) this.requestStudyChecks(this.handlers);
    } catch (err) {
      this.tickFailures.failed(err);
      return;
    }
    this.tickFailures.recovered();
  }

  /**
   * Runs the due study checks, one pass at a time, beside the ticks rather than in them: a check reads its study's
   * headers, and after a restart or a bulk import hundreds are due at once (or one hangs on a failing disk). Analyses
   * and exports go on starting meanwhile; an analysis a check plans starts at the tick it asks for.
   */
  private requestStudyChecks(handlers: JobHandlers): void {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = this.runDueStudyChecks(handlers).catch((err: unknown) => this.tickFailures.failed(err)).finally(() => {
      this.checking = undefined;
      if (!this.checkAgain || this.closing) return;
      this.checkAgain = false;
      this.requestStudyChecks(handlers);
    });
  }

  private async runDueStudyChecks(handlers: JobHandlers): Promise<void> {
    const due = this.statements.prepare('SELECT study_uid, due_at FROM pending_studies WHERE due_at <= ?').all(Date.now()) as { study_uid: string; due_at: number }[];
    for (const { study_uid, due_at } of due) {
      if (this.closing) return; // the rest stay due, for the next start
      // An instance of it arrived during an earlier check of this pass: its quiet period started again, and its
      // timer (re-armed by scheduleStudyCheck) runs the check when that ends, not now, mid-arrival.
      if (!this.statements.prepare('SELECT 1 FROM pending_studies WHERE study_uid = ? AND due_at = ?').get(study_uid, due_at)) continue;
      try {
        await handlers.checkStudy(study_uid);
        // Only clear the entry if no instance arrived meanwhile (that moved due_at on).
        this.statements.prepare('DELETE FROM pending_studies WHERE study_uid = ? AND due_at = ?').run(study_uid, due_at);
      } catch (err) {
        const retryMs = this.options.studyCheckRetryMs ?? STUDY_CHECK_RETRY_MS;
        this.log.error({ err, studyInstanceUid: study_uid, retryMs }, 'study check failed; will retry');
        const retryAt = Date.now() + retryMs;
        const moved = this.statements.prepare('UPDATE pending_studies SET due_at = ? WHERE study_uid = ? AND due_at = ?').run(retryAt, study_uid, due_at);
        if (moved.changes) this.wakeForStudyCheck(study_uid, retryAt); // else a new instance has re-armed it already
      }
    }
  }

  /**
   * Keeps a started analysis or export until it settles, for close(). Such work records its own failures, so it
   * rejects only when that record could not be written: `unrecorded` takes that, instead of an unhandled
   * rejection, which would end the process.
   */
  private track(work: Promise<void>, unrecorded: (err: unknown) => void): void {
    const p = work.catch(unrecorded);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Makes the analyses and exports whose end could not be written due again, once the database takes writes. */
  private makeUnrecordedDue(): void {
    if (this.unrecordedAnalyses.size === 0 && this.unrecordedExports.size === 0) return;
    const dueAt = Date.now() + (this.options.unrecordedRetryMs ?? UNRECORDED_RETRY_MS);
    for (const id of this.unrecordedAnalyses) {
      this.statements.prepare(`UPDATE jobs SET state = 'queued', stage = NULL, next_attempt_at = ? WHERE id = ? AND state = 'running'`).run(dueAt, id);
      this.unrecordedAnalyses.delete(id);
    }
    for (const [key, { jobId, destination }] of this.unrecordedExports) {
      this.statements.prepare('UPDATE exports SET next_attempt_at = ? WHERE job_id = ? AND destination = ? AND next_attempt_at = ?')
        .run(dueAt, jobId, destination, NOT_DUE);
      this.unrecordedExports.delete(key);
    }
    this.recordFailures.recovered();
  }

  private startDueAnalyses(handlers: JobHandlers): void {
    while (this.activeAnalyses < this.concurrency) {
      // In the order they were made (rowid), not by created_at, which a wall clock stepped back can put ahead (see CREATED_IN_ORDER).
      const row = this.statements.prepare(`SELECT * FROM jobs WHERE state = 'queued' AND next_attempt_at <= ?
        ORDER BY rowid LIMIT 1`).get(Date.now()) as JobRow | undefined;
      if (!row) return;
      this.statements.prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, stage = NULL,
        progress = 0 WHERE id = ?`).run(Date.now(), row.id);
      this.activeAnalyses++;
      this.track(this.runAnalysis(handlers, row).finally(() => {
        this.activeAnalyses--;
        this.requestTick(); // the next job, and this one's exports, start now rather than at the next poll
      }), (err) => {
        this.unrecordedAnalyses.add(row.id);
        this.recordFailures.failed(err, { jobId: row.id });
      });
    }
  }

  private async runAnalysis(handlers: JobHandlers, row: JobRow): Promise<void> {
    const request = JSON.parse(row.request ?? 'null') as AnalysisRequest;
    const timings: Partial<Record<Stage, number>> = {};
    const progress = {
      stage: (stage: Stage, value: number) => {
        this.statements.prepare('UPDATE jobs SET stage = ?, progress = ?, timings = ? WHERE id = ?').run(stage, Math.round(value), JSON.stringify(timings), row.id);
        return Promise.resolve();
      },
      timing: (stage: Stage, ms: number) => {
        timings[stage] = Math.round(ms);
      },
    };
    let result: ResultUids;
    try {
      result = await handlers.analyze(row.id, request, progress);
    } catch (err) {
      this.failOrRetry(row, err, timings);
      return;
    }
    // One transaction: a job recorded done always has its exports. If it cannot be written the analysis did not
    // fail: this rejects, and track() runs it again once writes work (the same result), rather than recording it
    // as failed with the database's error.
    this.db.transaction(() => {
      this.statements.prepare(`UPDATE jobs SET state = 'done', progress = 100, finished_at = ?, result = ?, timings = ?,
        failure_code = NULL, failure_reason = NULL, request = ? WHERE id = ?`)
        .run(Date.now(), JSON.stringify(result), JSON.stringify(timings), JSON.stringify(summariseRequest(request)), row.id);
      this.addExports(row.id);
    })();
  }

  private failOrRetry(row: JobRow, err: unknown, timings: Partial<Record<Stage, number>>): void {
    const error = toMipsegError(err);
    const attempts = row.attempts + 1;
    const retry = !isUnrecoverable(err) && attempts < this.options.analysisRetry.attempts;
    if (retry) {
      const delay = backoffDelay(this.options.analysisRetry, attempts);
      this.log.warn({ jobId: row.id, attempts, delay, code: error.code }, 'analysis failed; will retry');
      // No stage or progress of the attempt that failed: the job would read as storing at 90 % while it waits.
      this.statements.prepare(`UPDATE jobs SET state = 'queued', stage = NULL, progress = 0, timings = ?, next_attempt_at = ?, failure_code = ?,
        failure_reason = ? WHERE id = ?`).run(JSON.stringify(timings), Date.now() + delay, error.code, error.message, row.id);
      return;
    }
    this.recordFailed(row, error, timings);
  }

  private recordFailed(row: JobRow, error: MipsegError, timings: Partial<Record<Stage, number>>): void {
    this.log.warn({ jobId: row.id, code: error.code, reason: error.message }, 'analysis failed');
    const request = row.request ? JSON.stringify(summariseRequest(JSON.parse(row.request) as StoredAnalysisRequest)) : null;
    this.statements.prepare(`UPDATE jobs SET state = 'failed', finished_at = ?, failure_code = ?, failure_reason = ?, timings = ?, request = ?
      WHERE id = ?`).run(Date.now(), error.code, error.message, JSON.stringify(timings), request, row.id);
  }

  /**
   * An analysis still running when the process last ended was cut off by a crash or a kill: a restart that did not
   * wait for it (a clean shutdown hands its analyses back, see handBackOnShutdown), or the analysis itself (an
   * out-of-memory kill, a crash in native code). That is a stall, as queue mode calls it, not an attempt: it gives
   * back the attempt its start took, so that two restarts during a long analysis and one transient failure do not
   * fail a good study for good at JOB_ATTEMPTS=3. Stalls have a budget of their own (JOB_MAX_STALLS): one that takes
   * it past that is failed rather than run again, or an input that kills the process would take the archive down at
   * every start. Run again otherwise, from its start.
   */
  private takeBackInterruptedAnalyses(): void {
    const limit = this.options.maxStalls ?? DEFAULT_JOB_MAX_STALLS;
    const interrupted = this.db.transaction(() => {
      this.statements.prepare(`UPDATE jobs SET attempts = max(attempts - 1, 0), stalls = stalls + 1 WHERE state = 'running'`).run();
      const spent = this.statements.prepare(`SELECT * FROM jobs WHERE state = 'running' AND stalls > ?`).all(limit) as JobRow[];
      for (const row of spent) this.recordFailed(row, stalledTooOften(row.stalls), JSON.parse(row.timings) as Partial<Record<Stage, number>>);
      return this.statements.prepare(`UPDATE jobs SET state = 'queued', stage = NULL WHERE state = 'running'`).run().changes;
    })();
    if (interrupted) this.log.warn({ jobs: interrupted }, 're-queued analyses interrupted by a crash or a kill (one stall each)');
  }

  private addExports(jobId: string): void {
    const now = Date.now();
    const insert = this.statements.prepare(`INSERT OR IGNORE INTO exports VALUES (?, ?, 'pending', 0, NULL, ?, ?)`);
    for (const destination of this.options.exportDestinations) insert.run(jobId, destination, now, now);
  }

  /**
   * Sends a result whose export failed to that destination again (the worklist's retry button). Only a
   * failed one: a pending or sent export is left alone, so a second click cannot start a second send, and so is a
   * superseded one (a newer result of its series went out instead). A failed one retried after a newer result is
   * done ends superseded at its next tick, unsent.
   */
  retryExport(jobId: string, destination: string): Promise<boolean> {
    const info = this.statements.prepare(`UPDATE exports SET state = 'pending', attempts = 0, next_attempt_at = ?
      WHERE job_id = ? AND destination = ? AND state = 'failed'`).run(Date.now(), jobId, destination);
    return Promise.resolve(info.changes === 1);
  }

  /**
   * Starts due exports, the longest due first, up to EXPORTS_PER_DESTINATION per destination. One over the limit
   * is left due and unclaimed: the tick that the end of one of its destination's sends asks for starts it.
   */
  private startDueExports(handlers: JobHandlers): void {
    if (!handlers.exportResult) return;
    const due = this.statements.prepare(DUE_EXPORTS_SQL).all(Date.now(), EXPORTS_PER_DESTINATION) as DueExportRow[];
    for (const row of due) {
      const sending = this.exportsSending.get(row.destination) ?? 0;
      if (sending >= EXPORTS_PER_DESTINATION) continue;
      this.statements.prepare('UPDATE exports SET next_attempt_at = ? WHERE job_id = ? AND destination = ?').run(NOT_DUE, row.job_id, row.destination);
      this.exportsSending.set(row.destination, sending + 1);
      const sent = this.runExport(handlers, row).finally(() => {
        const left = (this.exportsSending.get(row.destination) ?? 1) - 1;
        if (left > 0) this.exportsSending.set(row.destination, left);
        else this.exportsSending.delete(row.destination);
        this.requestTick();
      });
      this.track(sent, (err) => {
        this.unrecordedExports.set(`${row.job_id}\n${row.destination}`, { jobId: row.job_id, destination: row.destination });
        this.recordFailures.failed(err, { jobId: row.job_id, destination: row.destination });
      });
    }
  }

  private async runExport(handlers: JobHandlers, row: DueExportRow): Promise<void> {
    const superseded = await supersededExportDetail(() => this.listJobs({ studyInstanceUid: row.study_uid, limit: Number.MAX_SAFE_INTEGER, offset: 0 }),
      { jobId: row.job_id, destination: row.destination }, this.log);
    if (superseded !== undefined) {
      // No attempt was made: the attempts stay as they were.
      this.recordExport(row, { state: 'superseded', attempts: row.attempts, detail: superseded });
      this.log.info({ jobId: row.job_id, destination: row.destination, detail: superseded }, 'export superseded by a newer result: not sent');
      return;
    }
    const attempt = row.attempts + 1;
    let state: 'sent' | 'retrying' | 'failed';
    let detail: string;
    try {
      // In the attempt: a result that cannot be read fails it (and, at the last, the export), rather than rejecting,
      // which would read as an end that could not be written, made due again for ever.
      const result = JSON.parse(row.result) as ResultUids;
      const status = await (handlers.exportResult as NonNullable<JobHandlers['exportResult']>)(row.job_id, result, row.destination, attempt);
      state = status.state === 'sent' ? 'sent' : status.state === 'failed' || attempt >= this.options.exportRetry.attempts ? 'failed' : 'retrying';
      detail = status.detail ?? '';
    } catch (err) {
      const error = toMipsegError(err);
      state = attempt >= this.options.exportRetry.attempts ? 'failed' : 'retrying';
      detail = error.message;
    }
    this.recordExport(row, { state, attempts: attempt, detail });
    if (state !== 'sent') this.log.warn({ jobId: row.job_id, destination: row.destination, attempt, state, detail }, 'export not sent');
  }

  private recordExport(row: ExportRow, end: { readonly state: ExportState; readonly attempts: number; readonly detail: string }): void {
    // Only a retrying export is due again; only retryExport brings a failed one back (and a superseded one stays).
    const next = end.state === 'retrying' ? Date.now() + backoffDelay(this.options.exportRetry, end.attempts) : NOT_DUE;
    this.statements.prepare(`UPDATE exports SET state = ?, attempts = ?, detail = ?, updated_at = ?, next_attempt_at = ?
      WHERE job_id = ? AND destination = ?`).run(end.state, end.attempts, end.detail, Date.now(), next, row.job_id, row.destination);
  }

  ping(): Promise<void> {
    try {
      this.statements.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM jobs LIMIT 1)').get();
      this.statements.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM exports LIMIT 1)').get();
      return Promise.resolve();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return Promise.reject(new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', `the job store cannot be read (${typeof code === 'string' ? code : 'error'})`,
        { cause: err }));
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    for (const timer of this.studyCheckTimers.values()) clearTimeout(timer);
    this.studyCheckTimers.clear();
    await this.ticking;
    await this.checking;
    await Promise.allSettled([...this.running]);
    this.db.close();
  }
}
