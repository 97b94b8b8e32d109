import type { Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import { RepeatedFailureLog, type Logger } from '@mipseg/shared/log';
import type { JobQueue, JobRecord } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { QUEUE_READ_TIMEOUT_MS, readQueue } from '../queue-read';
import { exportsKey, FollowedExports, isExporting, type ExportState, type ShownJob } from './followed-exports';
import type { StreamPingEvent, StudiesChangedEvent } from './worklist-types';

/** Jobs looked at on each poll: everything running, and the newest jobs (finishing ones, exports). */
const RECENT_JOBS = 100;
/** Most jobs followed for their exports (see followExports): each read on every poll, so a poll's reads stay bounded. */
const MAX_FOLLOWED_JOBS = 100;
/** A job followed for its exports is let go once no study view has asked for it this long (its page has left). */
const FOLLOW_EXPORTS_FOR_MS = 10 * 60_000;
/**
 * Most jobs followed because a worklist page lists them with a failed export (see showExports): two pages of 50. Past
 * it the job listed longest ago is let go for the new one, so that the pages read last (one paged to during a PACS
 * outage, another workstation's) are followed, not the first ones read, up to 35 minutes after they have gone. Letting
 * go sends nothing (a job taken on or let go of is no change), so that page does not read its list again to take it back.
 */
const MAX_SHOWN_JOBS = 100;
/**
 * A job a worklist page listed is followed this long after: a page reads its list again at least whenever its
 * stream reopens, which it does within MAX_STREAM_AGE_MS, so the jobs of an open page stay followed.
 */
const SHOW_EXPORTS_FOR_MS = 35 * 60_000;
/**
 * Longest a poll waits for one followed job: well inside the poll's own timeout, so that one slow read is passed over
 * (its last state kept) instead of failing the whole poll.
 */
const FOLLOWED_READ_TIMEOUT_MS = QUEUE_READ_TIMEOUT_MS / 2;
/**
 * Longest an event stream is kept: a half-open one (a laptop asleep, a VPN switch) still takes every ping as sent, and
 * would otherwise hold its place among MAX_EVENT_STREAMS until TCP gives up (hours). A page whose stream ends opens
 * a new one by itself (and refreshes), so a live page sees no more than that once in this long.
 */
export const MAX_STREAM_AGE_MS = 30 * 60_000;
/** Longest gap between writes to an event stream; shorter where the server closes quiet connections sooner. */
const KEEPALIVE_MS = 15_000;

/**
 * How often every event stream gets a `ping` event: well inside the server's inactivity timeout (which closes a
 * connection on which no byte moves), or the page's live view would be cut and reconnect over and over.
 */
export function keepAliveInterval(inactivityTimeoutMs: number): number {
  return Math.min(KEEPALIVE_MS, Math.floor(inactivityTimeoutMs / 3));
}

/**
 * Most event streams open at once. Each holds a socket and a descriptor for as long as its page is open; a page holds
 * one, and a browser at most six to one host (HTTP/1.1), so this is tens of workstations, while a client that opens
 * streams in a loop cannot take every descriptor of the process.
 */
export const MAX_EVENT_STREAMS = 100;

/**
 * Most event streams one caller (a sign-in, a bearer token, or without authentication an address; see callerOf) may
 * hold at once: a page holds one, a few tabs a few, and a half-open stream of a page that reconnected is held until
 * MAX_STREAM_AGE_MS. Else one client (a script, a reviewer with one token) could take all MAX_EVENT_STREAMS, and
 * every other workstation's page would be refused until it let them go.
 */
export const MAX_EVENT_STREAMS_PER_CALLER = 10;

/**
 * Most output a stream may hold unsent: about 150 events of a hundred study UIDs. A client that stops reading (a
 * laptop asleep, a frozen tab, a proxy that buffers) would otherwise have every later event kept in the gateway for
 * as long as its connection lasts, which the keep-alive lines stretch without end.
 */
export const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * Writes `text` to an event stream, unless more than `maxUnsentBytes` written before it still waits for the client:
 * then ends the stream instead of holding more for it (logged: the page reconnects once its client reads again).
 * False when the stream was ended. Counted before the write, not after: one event larger than the limit (a bulk
 * import changing thousands of studies in one poll) would otherwise end every stream, its clients reading or not.
 */
export function writeToStream(res: Response, text: string, log: Logger, maxUnsentBytes = MAX_UNSENT_BYTES): boolean {
  if (res.writableLength <= maxUnsentBytes) {
    res.write(text);
    return true;
  }
  log.warn({ unsentBytes: res.writableLength }, 'worklist event stream ended: its client does not read what is sent');
  // Destroyed, not ended: end() would wait behind the output the client does not read, and keep holding it.
  res.destroy();
  return false;
}

/**
 * Ends a stream that is no longer counted among the clients: destroyed where its client has not taken all that was
 * written, since end() would wait behind that output, keeping the socket and up to MAX_UNSENT_BYTES until the
 * inactivity timeout, uncounted by MAX_EVENT_STREAMS.
 */
function endStream(res: Response): void {
  if (res.writableLength > 0) res.destroy();
  else res.end();
}

/** An event stream's headers; also HEAD's answer. */
export const EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no', // nginx: pass events on at once
} as const;

function jobKey(job: JobRecord): string {
  return `${job.id}:${job.state}:${job.stage ?? ''}:${job.progress}:${exportsKey(job.exports)}`;
}

type QueueState = [pending: string[], running: JobRecord[], recent: JobRecord[]];

/** A failed export is sent again only by a retry, which anyone may ask of the API: the list must see that happen. */
const mayBeRetried = (job: { readonly exports: ReadonlyArray<{ readonly state: string }> }): boolean =>
  isExporting(job) || job.exports.some((e) => e.state === 'failed');

/**
 * A key per study that changes whenever its quiet period or one of its jobs each poll reads (running, newest) does.
 * Followed jobs are not in it: they are compared each with itself (FollowedExports), as which are followed is no change.
 */
function studyKeys(pending: string[], jobs: JobRecord[]): Map<string, string> {
  const keys = new Map<string, string>();
  for (const uid of pending) keys.set(uid, 'waiting');
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    keys.set(job.studyInstanceUid, `${keys.get(job.studyInstanceUid) ?? ''}|${jobKey(job)}`);
  }
  return keys;
}

/**
 * Server-sent events for the worklist page (GET /api/worklist/events). One poller for all clients, running only
 * while a client is connected: every `intervalMs` it reads the quiet-period studies and the running and newest jobs,
 * and compares them with the previous poll; stored and deleted instances are reported by the archive directly. Clients get
 * `event: studies` with the UIDs that changed and fetch what they show again.
 */
export class StudyEvents {
  /**
   * Each stream, with whether the sign-in that opened it still holds and when it is ended (MAX_STREAM_AGE_MS), both
   * checked before every write.
   */
  private readonly clients = new Map<Response, { readonly signedIn: () => boolean; readonly endsAt: number; readonly caller: string }>();
  /** Set by close(): a stream asked for during a shutdown is refused, not taken on to hold the server open. */
  private closed = false;
  /** Studies the archive stored instances in or deleted them from since the last poll. */
  private readonly changedSince = new Set<string>();
  /** The last poll's key per study; undefined until the first poll after a (re)start sets the baseline. */
  private previous: Map<string, string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /**
   * Jobs whose exports are under way though they may be older than the RECENT_JOBS newest (an export retried long
   * after its job): read by id on each poll while a stream is open, until every export has settled.
   */
  private readonly followed: FollowedExports;
  /** Jobs a worklist page lists with an export failed or under way (see showExports). */
  private readonly shown: FollowedExports;
  /** Whether a job was let go of since `shown` was last below MAX_SHOWN_JOBS: logged once, not at every list read. */
  private shownFull = false;
  /** Whether the poll's queue reads are still running: until they have settled, not only until the poll stopped waiting. */
  private reading = false;
  /** A poll fails on every tick while the queue is away (Redis down): logged once, summarised, and on recovery. */
  private readonly pollFailures: RepeatedFailureLog;

  /**
   * The keep-alive, a named event rather than an SSE comment: a comment fires nothing in the browser, which then cannot
   * tell a quiet stream from a half-open connection (a laptop asleep, a VPN switch). It carries its interval, so that
   * the page knows when one is overdue.
   */
  private readonly ping: string;

  constructor(private readonly queue: JobQueue, archive: Archive, private readonly log: Logger, private readonly intervalMs: number,
    private readonly keepAliveMs: number) {
    this.followed = new FollowedExports(queue, { maxJobs: MAX_FOLLOWED_JOBS, followForMs: FOLLOW_EXPORTS_FOR_MS,
      readTimeoutMs: FOLLOWED_READ_TIMEOUT_MS });
    this.shown = new FollowedExports(queue, { maxJobs: MAX_SHOWN_JOBS, followForMs: SHOW_EXPORTS_FOR_MS,
      readTimeoutMs: FOLLOWED_READ_TIMEOUT_MS, keep: mayBeRetried });
    this.ping = `event: ping\ndata: ${JSON.stringify({ intervalMs: keepAliveMs } satisfies StreamPingEvent)}\n\n`;
    this.pollFailures = new RepeatedFailureLog(log, { level: 'warn', message: 'worklist event poll failed',
      recoveredMessage: 'worklist event poll works again' });
    const changed = (study: string): void => {
      if (this.timer) this.changedSince.add(study);
    };
    archive.onInstanceStored((header) => changed(header.studyInstanceUid));
    // A deleted study leaves the list, a deleted result leaves its study's row: neither changes a job.
    archive.onDeletedFrom(changed);
  }

  /**
   * Takes on one client's stream. `signedIn` says whether the sign-in it was opened with still holds: the stream ends
   * at its next write (within the keep-alive interval) once it does not (signed out in another tab, or expired), so
   * that study UIDs no longer go to a browser left open. The page then asks for a new stream, and signs in again.
   * `caller` says whose stream it is, for MAX_EVENT_STREAMS_PER_CALLER (streams given none count as one caller's).
   */
  subscribe(res: Response, signedIn: () => boolean = () => true, caller = ''): void {
    // A client that left while an earlier middleware awaited (express.static's stat) fires no 'close' any more:
    // taken on, it would stay in `clients` and keep the poller running for the life of the process.
    if (res.closed || res.writableEnded) return;
    if (!this.hasRoom(res, caller)) return;
    res.status(200).set(EVENT_STREAM_HEADERS);
    res.flushHeaders();
    // A ping at once: the page learns the interval from it before it is due to expect the next.
    res.write(`retry: 2000\n\n${this.ping}`);
    this.clients.set(res, { signedIn, endsAt: Date.now() + MAX_STREAM_AGE_MS, caller });
    if (!this.timer) this.start();
    // The response's 'close', not the request's: it comes whenever the connection goes, the body read or not.
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
  }

  /**
   * Whether a stream would be taken on now for `caller`; where not, answers 503 with Retry-After (shutting down) or
   * throws MIPSEG_BUSY (MAX_EVENT_STREAMS open, or MAX_EVENT_STREAMS_PER_CALLER of the caller's, which the error
   * handler answers with Retry-After). HEAD asks it too, so that a client checking before it connects is told what
   * GET would tell it.
   */
  hasRoom(res: Response, caller: string): boolean {
    if (this.closed) {
      res.status(503).set('Retry-After', '5').end();
      return false;
    }
    if (this.clients.size >= MAX_EVENT_STREAMS) {
      throw new MipsegError('MIPSEG_BUSY', `${MAX_EVENT_STREAMS} worklist event streams are open, the most taken at once`);
    }
    if (this.streamsOf(caller) >= MAX_EVENT_STREAMS_PER_CALLER) {
      throw new MipsegError('MIPSEG_BUSY',
        `${MAX_EVENT_STREAMS_PER_CALLER} worklist event streams of this sign-in, token or address are open, the most one caller may hold`);
    }
    return true;
  }

  /** Counted each time, not kept: at most MAX_EVENT_STREAMS to look at, and nothing to fall out of step with `clients`. */
  private streamsOf(caller: string): number {
    let count = 0;
    for (const client of this.clients.values()) if (client.caller === caller) count += 1;
    return count;
  }

  /**
   * Follows a job's exports until they settle (sent or failed), so that their changes are sent though the job is
   * older than those each poll reads: a retried export of an old job otherwise showed "Pending" for ever. Only while
   * a stream is open: a page asks again for what it shows whenever its stream (re)opens.
   */
  followExports(job: ShownJob): void {
    if (this.clients.size === 0) return;
    const letGo = this.followed.follow(job);
    if (letGo === undefined) return;
    this.log.info({ jobId: letGo, maxJobs: MAX_FOLLOWED_JOBS },
      'worklist event stream stops following the exports of the job asked for longest ago: too many followed');
  }

  /**
   * Follows the export states of a job a worklist page lists (its study's newest), while one has failed or is under way,
   * however old the job: a retry asked of the API by anyone (a script, another workstation) changes it, and the list
   * must show it going from failed to pending to sent without its study being opened. Only while a stream is open,
   * like followExports.
   */
  showExports(job: { readonly jobId: string | null; readonly exports: ReadonlyArray<ExportState> }): void {
    if (this.clients.size === 0 || job.jobId === null || !mayBeRetried(job)) return;
    if (this.shown.size < MAX_SHOWN_JOBS) this.shownFull = false; // there was room again
    const letGo = this.shown.follow({ jobId: job.jobId, exports: job.exports });
    if (letGo === undefined || this.shownFull) return;
    this.shownFull = true;
    this.log.info({ jobId: letGo, maxJobs: MAX_SHOWN_JOBS },
      'worklist event stream stops following the exports of the job listed longest ago: too many listed jobs followed; a retry of it shows once its list is read again');
  }

  private start(): void {
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    // Its own timer, not the poll's: a poll that waits on a slow queue must not starve the streams of bytes.
    this.keepAliveTimer = setInterval(() => this.write(this.ping), this.keepAliveMs);
    this.poll();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.timer = undefined;
    this.keepAliveTimer = undefined;
    this.previous = undefined;
    this.changedSince.clear();
    this.followed.clear();
    this.shown.clear();
    this.shownFull = false;
  }

  /**
   * The poll's reads of the queue, each a promise (a queue that throws at once rejects it) and all started together,
   * and when every read started has ended (a followed job's slow read included).
   */
  private readQueueState(): { reads: [Promise<string[]>, Promise<JobRecord[]>, Promise<JobRecord[]>]; followed: Promise<string[]>; settled: Promise<unknown> } {
    const read = async <T>(fn: () => Promise<T>): Promise<T> => fn();
    const followed = this.followed.read();
    const shown = this.shown.read();
    const reads = [
      read(() => this.queue.pendingStudies()),
      read(() => this.queue.listJobs({ state: 'running', limit: RECENT_JOBS, offset: 0 })),
      read(() => this.queue.listJobs({ limit: RECENT_JOBS, offset: 0 })),
    ] as const;
    const changed = Promise.all([followed.changed, shown.changed]).then((studies) => studies.flat());
    return { reads: [...reads], followed: changed, settled: Promise.allSettled([...reads, followed.settled, shown.settled]) };
  }

  /** Studies whose quiet period or jobs changed since the previous poll (none on the first, which sets the baseline). */
  private queueChanges([pending, running, recent]: QueueState): string[] {
    const current = studyKeys(pending, [...running, ...recent]);
    const previous = this.previous ?? current;
    this.previous = current;
    const changed = [...current].filter(([uid, key]) => previous.get(uid) !== key).map(([uid]) => uid);
    return [...changed, ...[...previous.keys()].filter((uid) => !current.has(uid))];
  }

  private poll(): void {
    // The wait for a read ends at its timeout, the read itself only when the queue answers (a slow scan of a long job
    // list): a second read beside it would load Redis further, so none starts until it has. The archive's changes go out.
    if (this.reading) {
      this.sendChanges([]);
      return;
    }
    this.reading = true;
    const { reads, followed, settled } = this.readQueueState();
    void settled.then(() => { this.reading = false; });
    void this.reportChanges(Promise.all(reads), followed);
  }

  /**
   * `followed`: the studies of followed jobs whose exports changed, which is never rejected and ends within
   * FOLLOWED_READ_TIMEOUT_MS; sent whether or not the other reads answered, as each job's last state is kept there.
   */
  private async reportChanges(reads: Promise<QueueState>, followed: Promise<string[]>): Promise<void> {
    let fromQueue: string[] = [];
    try {
      fromQueue = this.queueChanges(await readQueue(reads, 'the worklist event poll'));
      this.pollFailures.recovered();
    } catch (err) {
      this.pollFailures.failed(err);
    }
    // What the archive reported goes out whether or not the queue answered: a study stored while Redis is down
    // must still appear on the page.
    this.sendChanges([...fromQueue, ...(await followed)]);
  }

  private sendChanges(fromQueue: string[]): void {
    const changed = new Set([...this.changedSince, ...fromQueue]);
    this.changedSince.clear();
    if (changed.size > 0) this.send('studies', { studies: [...changed] } satisfies StudiesChangedEvent);
  }

  private send(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(text: string): void {
    const now = Date.now();
    for (const [res, { signedIn, endsAt }] of this.clients) {
      if (now < endsAt && signedIn()) {
        if (!writeToStream(res, text, this.log)) this.clients.delete(res);
        continue;
      }
      this.clients.delete(res);
      endStream(res);
    }
    if (this.clients.size === 0) this.stop();
  }

  /** Ends every stream (so that a graceful shutdown does not wait for them), stops polling and takes no new one. */
  close(): void {
    this.closed = true;
    this.stop();
    for (const res of this.clients.keys()) endStream(res);
    this.clients.clear();
  }
}
