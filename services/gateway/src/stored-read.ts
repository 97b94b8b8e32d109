import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { MipsegError } from '@mipseg/shared/errors';
import type { Archive, RangedBlob, StoredInstance } from '@mipseg/shared/store';

/**
 * Reads from an instance's file. Deleted (its series or study) or replaced since it was looked up: not found, as
 * readMetadata answers. A file missing under a row that still lists it is the server's fault, and stays an internal error.
 */
export async function readStored<T>(archive: Archive, instance: StoredInstance, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const gone = (err as NodeJS.ErrnoException).code === 'ENOENT' && !archive.isStillStored(instance);
    if (gone) throw new MipsegError('MIPSEG_NOT_FOUND', `instance ${instance.sopInstanceUid}`);
    throw err;
  }
}

/** An instance's whole file (readStored's not found where it was deleted or replaced since it was looked up). */
export function readStoredFile(archive: Archive, instance: StoredInstance): Promise<Buffer> {
  return readStored(archive, instance, () => archive.blobs.read(instance.storageKey));
}

/** Files up to this size are read whole and sent; larger ones are streamed (PET slices are tens of kilobytes). */
const SEND_WHOLE_MAX_BYTES = 1 << 20;
const STREAM_CHUNK_BYTES = 1 << 20;

/** The opened file's bytes from `from` to `to` (by default all of them), a chunk at a time. */
export async function* chunksOf(file: RangedBlob, from = 0, to = file.size): AsyncGenerator<Buffer> {
  for (let start = from; start < to; start += STREAM_CHUNK_BYTES) {
    const chunk = await file.read(start, Math.min(STREAM_CHUNK_BYTES, to - start));
    if (chunk.length === 0) throw new Error(`the file of instance ended at ${start} of ${to} bytes`);
    yield chunk;
  }
}

/**
 * Sends an instance's file as the body of `res`, with `headers` and `type`: small ones read whole, large ones
 * streamed a chunk at a time from one opened file, so a 1 GiB instance holds a megabyte, not a gigabyte, and a
 * replacement published meanwhile is not mixed in. The file is read or opened before any header is set: one deleted
 * since it was looked up is a plain 404 (not an attachment, nor cached), not a cut connection.
 */
export async function sendStoredFile(archive: Archive, instance: StoredInstance, res: Response, type: string,
  headers: Record<string, string>): Promise<void> {
  if (instance.size <= SEND_WHOLE_MAX_BYTES) {
    const bytes = await readStoredFile(archive, instance);
    res.set(headers).type(type).send(bytes);
    return;
  }
  const file = await readStored(archive, instance, () => archive.blobs.openRanged(instance.storageKey));
  try {
    // The opened file's size, not the row's: a corrected copy published since the lookup is what is read.
    res.set(headers).type(type).set('Content-Length', String(file.size));
    await pipeline(Readable.from(chunksOf(file)), res);
  } finally {
    await file.close();
  }
}
