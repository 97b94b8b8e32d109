import { createHash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { MipsegError, toMipsegError, toStorageError } from '@mipseg/shared/errors';
import { HEADER_PROBE_BYTES, type Archive, type ReceivingFloorCheck, type StoreOutcome } from '@mipseg/shared/store';

// A PDV cannot be longer than its PDU's 32-bit length field, so with this mark write() never returns false.
const NEVER_FULL = 2 ** 32;

/**
 * Where dcmjs-dimse writes the P-DATA PDV values of one C-STORE data set: straight into a temp file that
 * already holds the preamble and File Meta Information, so the archive receives the data set bytes exactly
 * as they came off the wire. dcmjs-dimse waits for 'drain' only on the first PDU of a data set and keeps
 * processing later PDUs meanwhile, which can reorder PDVs; so this stream never signals back-pressure to
 * it. Back-pressure goes to the socket instead: it is paused while the file lags behind. Like STOW, it
 * hashes the file and keeps its head as it goes, so ingest need not read the file back.
 */
export class ReceivedInstance extends Writable {
  private readonly file: { path: string; stream: WriteStream };
  private readonly fileClosed: Promise<void>;
  private readonly hash = createHash('sha256');
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private size = 0;
  private problem: MipsegError | undefined;
  /** Whether this data set holds the socket (holdSocketWhileNeeded), and why. */
  private socketHeld = false;
  private fileBehind = false;
  private checking = false;
  private discarded = false;
  /** MIN_FREE_DISK_BYTES, checked as the data set is written (Archive.receivingFloorCheck). */
  private readonly floorCheck: ReceivingFloorCheck;

  constructor(
    private readonly archive: Archive,
    fileMeta: Buffer,
    private readonly maxInstanceBytes: number,
    private readonly socket: Socket,
    /** The request's AffectedSOPInstanceUID: a re-send of a stored instance is not held to the free-space floor. */
    sopInstanceUid: string | undefined,
    /** Set where the request is refused before its data set arrives: the bytes are then read and dropped. */
    refusal?: MipsegError,
  ) {
    super({ highWaterMark: NEVER_FULL });
    this.file = archive.blobs.createTemp();
    this.floorCheck = archive.receivingFloorCheck(sopInstanceUid);
    this.fileClosed = new Promise((resolve) => this.file.stream.once('close', resolve));
    this.file.stream.on('error', (err) => {
      this.problem ??= toStorageError(err);
      this.fileBehind = false;
      this.holdSocketWhileNeeded();
    });
    this.problem = refusal;
    this.append(fileMeta);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.problem && this.size + chunk.length > this.maxInstanceBytes) {
      // Over a configured size, as by STOW: not a storage fault, which an administrator would go looking for.
      this.problem = new MipsegError('MIPSEG_PAYLOAD_TOO_LARGE', `instance over MAX_INSTANCE_BYTES (${this.maxInstanceBytes})`);
    }
    if (this.problem) {
      callback();
      return;
    }
    const check = this.floorCheck(this.size + chunk.length);
    if (!check) {
      this.append(chunk);
      callback();
      return;
    }
    // Writable calls _write once at a time, in order: the PDVs still reach the file as they came. The socket is held
    // meanwhile (a statfs on a slow volume), or the PDVs behind this one would pile up in memory.
    this.checking = true;
    this.holdSocketWhileNeeded();
    void check.then(() => {
      if (!this.problem) this.append(chunk);
    }, (err: unknown) => {
      this.problem ??= toMipsegError(err);
    }).finally(() => {
      this.checking = false;
      this.holdSocketWhileNeeded();
      callback();
    });
  }

  private append(chunk: Buffer): void {
    if (this.discarded) return;
    this.size += chunk.length;
    this.hash.update(chunk);
    if (this.headBytes < HEADER_PROBE_BYTES) {
      // A copy: the head outlives this PDV, whose buffer belongs to dcmjs-dimse.
      const part = Buffer.from(chunk.subarray(0, HEADER_PROBE_BYTES - this.headBytes));
      this.head.push(part);
      this.headBytes += part.length;
    }
    if (!this.file.stream.write(chunk)) this.waitForFile();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.fileBehind = false;
    this.holdSocketWhileNeeded();
    this.file.stream.end();
    callback();
  }

  /**
   * Waits until the data set is on disk, then hands the file to the archive (which consumes it). Counted by the
   * archive from here, so that a shutdown waits for it (Archive.settle) through the wait for the file too.
   */
  store(): Promise<StoreOutcome> {
    return this.archive.track(this.storeWhenWritten());
  }

  private async storeWhenWritten(): Promise<StoreOutcome> {
    await this.fileClosed;
    if (this.problem) {
      // Refused as it arrived: the gateway's /metrics counts it here (IngestMetrics.counting), the archive never having seen it.
      (this.archive as { refusedWhileArriving?: (error: MipsegError, bytes: number) => void }).refusedWhileArriving?.(this.problem, this.size);
      await this.archive.blobs.discardTemp(this.file.path);
      return { status: 'failed', error: this.problem };
    }
    const { path } = this.file;
    return this.archive.storeReceived({ path, size: this.size, sha256: this.hash.digest('hex'), head: Buffer.concat(this.head),
      dataSynced: false });
  }

  /** For a data set that never completed (association aborted or closed mid-transfer). */
  async discard(): Promise<void> {
    this.discarded = true;
    this.holdSocketWhileNeeded();
    this.file.stream.destroy();
    await this.fileClosed;
    await this.archive.blobs.discardTemp(this.file.path);
  }

  /** Holds the socket until the file has taken what it was given. */
  private waitForFile(): void {
    if (this.fileBehind) return;
    this.fileBehind = true;
    this.holdSocketWhileNeeded();
    this.file.stream.once('drain', () => {
      this.fileBehind = false;
      this.holdSocketWhileNeeded();
    });
  }

  /**
   * The socket is held while the file lags behind or a floor check is pending, each letting go only of its own hold
   * (a drain during a check leaves the socket held); never once the data set is discarded.
   */
  private holdSocketWhileNeeded(): void {
    const hold = !this.discarded && (this.fileBehind || this.checking);
    if (hold === this.socketHeld) return;
    this.socketHeld = hold;
    if (hold) this.socket.pause();
    else this.socket.resume();
  }
}
