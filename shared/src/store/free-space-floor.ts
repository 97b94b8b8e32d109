import { MipsegError } from '../errors';

/** How long a reading of the volume's free space stands for the stores that follow (statfs costs a system call). */
const READING_MAX_AGE_MS = 1000;
/** How many bytes of an instance being received are written between two checks of the floor (receivingCheck). */
const RECEIVING_CHECK_BYTES = 8 * 1024 * 1024;

/**
 * Given the bytes of an instance received so far: undefined where no check is due, else a check that rejects with
 * MIPSEG_STORAGE_FULL while the volume is below the floor (a receiver may hold its input while it is pending).
 */
export type ReceivingFloorCheck = (received: number) => Promise<void> | undefined;

/**
 * MIN_FREE_DISK_BYTES as a floor for new instances, not only a readiness signal: a DIMSE sender has no /readyz to
 * watch, and would fill the volume the index, the job store and the logs share until a write failed midway. Below
 * the floor a new instance is refused as out of storage (507, 0xA700: the sender retries later). The free space is
 * read at most once a second; stores in between count against that reading.
 */
export class FreeSpaceFloor {
  private free = Number.POSITIVE_INFINITY;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<number> | undefined;

  constructor(
    private readonly freeBytes: () => Promise<number>,
    private readonly minFreeBytes: number,
  ) {}

  /** Throws MIPSEG_STORAGE_FULL while the volume is below the floor; then counts `bytes` as used. */
  async assertRoomFor(bytes: number): Promise<void> {
    await this.assertAbove();
    this.free -= bytes;
  }

  /** Throws MIPSEG_STORAGE_FULL while the volume is below the floor. */
  async assertAbove(): Promise<void> {
    if (this.minFreeBytes <= 0) return;
    const free = await this.currentFree();
    if (free < this.minFreeBytes) {
      throw new MipsegError('MIPSEG_STORAGE_FULL', `${free} bytes free on DATA_DIR's volume, below MIN_FREE_DISK_BYTES (${this.minFreeBytes})`);
    }
  }

  /**
   * A check for one instance as it is received into a temp file, before the store's own: at its first bytes and then
   * every RECEIVING_CHECK_BYTES, so that an upload (16 parts of a STOW request at once, each up to MAX_INSTANCE_BYTES)
   * stops filling the volume within a second's reading of its falling below the floor, instead of when it is whole.
   */
  receivingCheck(): ReceivingFloorCheck {
    let checkedAt: number | undefined;
    return (received) => {
      if (checkedAt !== undefined && received - checkedAt < RECEIVING_CHECK_BYTES) return undefined;
      checkedAt = received;
      return this.assertAbove();
    };
  }

  private currentFree(): Promise<number> {
    if (Date.now() - this.readAt < READING_MAX_AGE_MS) return Promise.resolve(this.free);
    this.reading ??= this.freeBytes()
      // A volume whose free space cannot be read is not taken for a full one: stores go on, and fail for real if it is.
      .catch(() => Number.POSITIVE_INFINITY)
      .then((free) => {
        this.free = free;
        this.readAt = Date.now();
        return free;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
