import { MipsegError } from '../errors';

/** Enough for every unreadable copy a real archive holds; a flood of crafted ones pushes out only the oldest. */
const FAILURES_KEPT = 4096;

/**
 * Why the metadata of stored copies could not be read, by the copy (its metadata cache key, which names its storage
 * key and SHA-256): the read is a parse on the thread that serves every request, and one that fails is not written
 * to the cache on disk, so without this each request would parse the file again. A replacement is a new copy and is
 * read again; the same bytes fail the same way, so an entry never goes stale (a failure that is not about the bytes
 * alone, see failsOverTheBytes, is not remembered). Kept in memory: after a restart each
 * such copy costs one parse again.
 */
export class MetadataFailures {
  private readonly failures = new Map<string, MipsegError>();

  constructor(private readonly kept = FAILURES_KEPT) {}

  get(copyKey: string): MipsegError | undefined {
    return this.failures.get(copyKey);
  }

  /** Keeps the error's code and words only: its cause can hold the whole file (dicom-parser's data set read so far). */
  remember(copyKey: string, error: MipsegError): void {
    this.failures.delete(copyKey);
    this.failures.set(copyKey, new MipsegError(error.code, error.detail));
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
