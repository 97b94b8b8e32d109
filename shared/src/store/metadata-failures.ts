import { MipsegError } from '../errors';

/** Enough for every unreadable copy a real archive holds; a flood of crafted ones pushes out only the oldest. */
const FAILURES_KEPT = 4096;

/**
 * How long a copy whose read ran past its time limit (readTimedOut, dicom) answers at once with the remembered error
 * (503 MIPSEG_BUSY, its Retry-After the time left).
 * Not for good, as a failure over the bytes is: an overloaded machine (swapping, starved of CPU) can time out a real
 * file, which is then read again within the hour without a restart. And long enough that a crafted copy (16 MB nested
 * 32 deep), asked for as often as anyone likes, holds a metadata thread one minute an hour (under 2 % of one of the
 * two), where it held one a minute for every request.
 */
export const TIMED_OUT_READ_REMEMBERED_MS = 60 * 60_000;

interface RememberedFailure {
  readonly error: MipsegError;
  /** Date.now() after which it is forgotten; Infinity: kept until pushed out. */
  readonly until: number;
}

/**
 * Why the metadata of stored copies could not be read, by the copy (its metadata cache key, which names its storage
 * key and SHA-256): the read is a parse on the thread that serves every request, and one that fails is not written
 * to the cache on disk, so without this each request would parse the file again. A replacement is a new copy and is
 * read again; the same bytes fail the same way, so an entry never goes stale (a failure that is not about the bytes
 * alone, see failsOverTheBytes, is not remembered), except a read that ran past its time limit, which is remembered
 * for `forMs` (TIMED_OUT_READ_REMEMBERED_MS). Kept in memory: after a restart each such copy costs one parse again.
 */
export class MetadataFailures {
  private readonly failures = new Map<string, RememberedFailure>();

  constructor(private readonly kept = FAILURES_KEPT) {}

  /** The remembered error; one remembered for a while says when it is forgotten, in seconds, as its retryAfterS. */
  get(copyKey: string): MipsegError | undefined {
    const failure = this.failures.get(copyKey);
    if (failure === undefined) return undefined;
    const left = failure.until - Date.now();
    if (left < 0) {
      this.failures.delete(copyKey);
      return undefined;
    }
    if (failure.until === Infinity) return failure.error;
    const { code, detail, cause } = failure.error;
    return new MipsegError(code, detail, { cause, retryAfterS: Math.max(1, Math.ceil(left / 1000)) });
  }

  /**
   * When a copy remembered for a while (a read past its time limit) is read again: Date.now() then, or undefined where
   * none is remembered for a while. Part of study metadata's ETag (see Archive.metadataReadPausedUntil).
   */
  pausedUntil(copyKey: string): number | undefined {
    const failure = this.failures.get(copyKey);
    return failure === undefined || failure.until === Infinity || failure.until < Date.now() ? undefined : failure.until;
  }

  /**
   * Keeps the error's code and words only: its cause can hold the whole file (dicom-parser's data set read so far).
   * One remembered for a while keeps its cause, a read stopped at its time limit, whose cause is the pool's small
   * marker (so that readTimedOut still tells it).
   */
  remember(copyKey: string, error: MipsegError, forMs = Infinity): void {
    this.failures.delete(copyKey);
    const cause: unknown = forMs === Infinity ? undefined : error.cause;
    this.failures.set(copyKey, { error: new MipsegError(error.code, error.detail, { cause }), until: Date.now() + forMs });
    if (this.failures.size > this.kept) this.failures.delete(this.failures.keys().next().value as string);
  }
}

/**
 * Whether a metadata read failed over the bytes alone, so that the same copy would fail the same way again: not where
 * the reader wrapped a failure of the process (memory or stack short: a RangeError, such as "Array buffer allocation
 * failed"; a Node or system error, which carries a code), which the next read may not meet.
 */
export function failsOverTheBytes(error: MipsegError): boolean {
  const cause: unknown = error.cause;
  return !(cause instanceof Error) || !(cause instanceof RangeError || 'code' in cause);
}
