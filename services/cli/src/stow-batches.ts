import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** A new multipart/related boundary: always the same length, so that planBatches knows a request's size before it. */
export function newBoundary(): string {
  return `mipseg-${randomUUID()}`;
}

const partHead = (boundary: string): string => `--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`;
const PART_TAIL = '\r\n';
const closeDelimiter = (boundary: string): string => `--${boundary}--\r\n`;

/** A STOW-RS request body of `files`, streamed; `onBytes` is told of each chunk of file read. */
export function multipartBody(files: readonly string[], boundary: string, onBytes: (n: number) => void): Readable {
  async function* parts() {
    for (const file of files) {
      yield Buffer.from(partHead(boundary));
      for await (const chunk of createReadStream(file)) {
        onBytes((chunk as Buffer).length);
        yield chunk as Buffer;
      }
      yield Buffer.from(PART_TAIL);
    }
    yield Buffer.from(closeDelimiter(boundary));
  }
  return Readable.from(parts());
}

/** Bytes of a body around its files' own: each part's head and tail, and the close delimiter. */
const PART_OVERHEAD = partHead(newBoundary()).length + PART_TAIL.length;
const CLOSE_OVERHEAD = closeDelimiter(newBoundary()).length;

/** One STOW request's files: `files.slice(start, end)`. */
export interface Batch {
  readonly start: number;
  readonly end: number;
}

/**
 * Splits files (their sizes, in send order) into STOW requests of at most `batchSize` files and at most
 * `maxRequestBytes` of body, delimiters included: a server stops reading a request past its own limit
 * (MAX_REQUEST_BYTES), and a count alone let a few large multi-frame files pass it at the same place on every re-send.
 * A file whose request alone would pass the cap goes alone: it cannot be split, and the server may still take it.
 */
export function planBatches(sizes: readonly number[], batchSize: number, maxRequestBytes: number): Batch[] {
  const batches: Batch[] = [];
  let start = 0;
  let bytes = CLOSE_OVERHEAD;
  sizes.forEach((size, i) => {
    const part = PART_OVERHEAD + size;
    if (i > start && (i - start === batchSize || bytes + part > maxRequestBytes)) {
      batches.push({ start, end: i });
      start = i;
      bytes = CLOSE_OVERHEAD;
    }
    bytes += part;
  });
  if (sizes.length > start) batches.push({ start, end: sizes.length });
  return batches;
}
