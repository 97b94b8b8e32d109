import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { codeOfMetadataRead, errorOfMetadataRead } from '../../../test/support/metadata-reads';
import { archiveForEachTest, storeInstance } from '../../../test/support/temp-archive';
import { longestStallDuring } from '../../../test/support/event-loop-stall';
import { explicitElement } from '../../../test/support/explicit-elements';
import { THREAD_HANGS } from '../../../test/support/dicom-json-test-thread';
import { withNestedSequences } from '../../../test/support/nested-sequences';
import { readDicomJson } from '../dicom/dicom-json';
import { DicomJsonPool, INLINE_READ_MAX_BYTES, readTimedOut } from '../dicom/dicom-json-pool';
import { MAX_SEQUENCE_DEPTH } from '../dicom/sequence-depth';
import { isMipsegError, type MipsegError } from '../errors';
import type { StoredInstance } from './sqlite-index';

// A metadata thread's start compiles its modules under tsx, and the crafted file takes seconds to read.
jest.setTimeout(60_000);

const TEST_THREAD = join(__dirname, '..', '..', '..', 'test', 'support', 'dicom-json-test-thread.ts');

const temp = archiveForEachTest('mipseg-metadata-off-event-loop-');

const store = (bytes: Uint8Array): Promise<StoredInstance> => storeInstance(temp, bytes);

/** A PET instance with a private OB value of `bytes` nested `depth` deep in undefined-length items. */
function petWithValueNested(sopInstanceUid: string, depth: number, bytes: number): Buffer {
  const value = explicitElement(0x0009, 0x1001, 'OB', Buffer.alloc(bytes, 0x20), true);
  return withNestedSequences(syntheticPetInstance({ sopInstanceUid }), depth, value);
}

/** What a read past its time limit fails with: a real pool's, its limit 1 s, on a thread that never answers. */
async function readTimeoutError(): Promise<MipsegError> {
  const pool = new DicomJsonPool({ size: 1, timeoutMs: 1_000, threadModule: TEST_THREAD });
  try {
    await pool.read({ bytes: syntheticPetInstance({ sopInstanceUid: '2.25.5160.99' }), bitsAllocated: THREAD_HANGS, encapsulated: false });
  } catch (err) {
    if (isMipsegError(err)) return err;
    throw err;
  } finally {
    await pool.close();
  }
  throw new Error('read');
}

// dcmjs reads it in depth × bytes: on the event loop, 2 MiB 32 deep held every request for ~3 s.
test('while a file nested 32 deep is read, the event loop keeps serving: timers fire and a small instance is read first', async () => {
  const deep = await store(petWithValueNested('2.25.5160.1', MAX_SEQUENCE_DEPTH, 2 * 1024 * 1024));
  const small = await store(syntheticPetInstance({ sopInstanceUid: '2.25.5160.2' }));
  const finished: string[] = [];
  const { stallMs } = await longestStallDuring(async () => {
    const deepRead = temp.archive.readMetadata(deep).then(() => finished.push('deep'));
    // Once the deep one is being read: on the event loop, this timer would wait for it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await temp.archive.readMetadata(small).then(() => finished.push('small'));
    await deepRead;
  }, 10);
  expect(finished).toEqual(['small', 'deep']);
  expect(stallMs).toBeLessThan(500);
});

test('a large file is read on a thread, once: its metadata is that of the file, and cached', async () => {
  const large = await store(petWithValueNested('2.25.5160.3', 2, INLINE_READ_MAX_BYTES));
  const reads = jest.spyOn(DicomJsonPool.prototype, 'read');
  const json = await temp.archive.readMetadata(large);
  expect(await temp.archive.readMetadata(large)).toBe(json);
  expect(reads).toHaveBeenCalledTimes(1);
  const file = petWithValueNested('2.25.5160.3', 2, INLINE_READ_MAX_BYTES);
  expect(json).toBe(JSON.stringify(readDicomJson(file, large.bitsAllocated, false)));
});

test('a large stored copy whose metadata cannot be read is read once on a thread: the next read answers the same error', async () => {
  const instance = await store(petWithValueNested('2.25.5160.4', 2, INLINE_READ_MAX_BYTES));
  // As one stored before ingest refused such nesting: overwritten in place, the index still naming the copy it stored.
  writeFileSync(join(temp.dir, instance.storageKey), petWithValueNested('2.25.5160.4', MAX_SEQUENCE_DEPTH + 8, INLINE_READ_MAX_BYTES));
  const reads = jest.spyOn(DicomJsonPool.prototype, 'read');
  expect(await codeOfMetadataRead(temp.archive, instance)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  expect(await codeOfMetadataRead(temp.archive, instance)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  expect(reads).toHaveBeenCalledTimes(1);
});

test('closing the archive ends its metadata threads', async () => {
  const large = await store(petWithValueNested('2.25.5160.5', 1, INLINE_READ_MAX_BYTES));
  const closes = jest.spyOn(DicomJsonPool.prototype, 'close');
  await temp.archive.readMetadata(large);
  temp.archive.close();
  expect(closes).toHaveBeenCalledTimes(1);
  await expect(closes.mock.results[0]?.value).resolves.toBeUndefined();
  await temp.reopen(); // for afterEach
});

test('a small file is read on the calling thread: no thread starts', async () => {
  const small = await store(syntheticPetInstance({ sopInstanceUid: '2.25.5160.6' }));
  const reads = jest.spyOn(DicomJsonPool.prototype, 'read');
  await temp.archive.readMetadata(small);
  expect(reads).not.toHaveBeenCalled();
});

// A crafted file (16 MB nested 32 deep) read past the limit each time it was asked for held a thread a minute each time.
// The limit is wall time, which a machine short of CPU spends on a genuine file too: busy for the hour, not a 400.
test('a copy whose read ran past its time limit answers 503 MIPSEG_BUSY at once for an hour, its Retry-After the time left', async () => {
  const instance = await store(petWithValueNested('2.25.5160.7', 2, INLINE_READ_MAX_BYTES));
  const timedOut = await readTimeoutError();
  const reads = jest.spyOn(DicomJsonPool.prototype, 'read').mockRejectedValueOnce(timedOut);
  const start = Date.now();
  const first = await errorOfMetadataRead(temp.archive, instance);
  expect([first.code, first.httpStatus, first.retryAfterS]).toEqual(['MIPSEG_BUSY', 503, 3600]);
  expect(first.message).toContain('metadata not read within 1 s');
  expect(first.message).toMatch(/will be tried again at \d{4}-\d\d-\d\dT/);
  expect(readTimedOut(first)).toBe(true);
  jest.spyOn(Date, 'now').mockReturnValue(start + 20 * 60_000);
  const again = await errorOfMetadataRead(temp.archive, instance);
  expect([again.code, again.message, readTimedOut(again)]).toEqual([first.code, first.message, true]);
  expect(again.retryAfterS).toBeGreaterThanOrEqual(40 * 60);
  expect(again.retryAfterS).toBeLessThanOrEqual(40 * 60 + 60);
  expect(reads).toHaveBeenCalledTimes(1);
  // An hour on: a timeout may have been the machine's (overloaded), not the file's.
  jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 60 * 60_000 + 1);
  const json = JSON.parse(await temp.archive.readMetadata(instance)) as Record<string, unknown>;
  expect(json['00080018']).toEqual({ vr: 'UI', Value: ['2.25.5160.7'] });
  expect(reads).toHaveBeenCalledTimes(2);
});

test('reads of one copy at once share one read on a thread', async () => {
  const large = await store(petWithValueNested('2.25.5160.8', 2, INLINE_READ_MAX_BYTES));
  const reads = jest.spyOn(DicomJsonPool.prototype, 'read');
  const [a, b, c] = await Promise.all([temp.archive.readMetadata(large), temp.archive.readMetadata(large), temp.archive.readMetadata(large)]);
  expect([b, c]).toEqual([a, a]);
  expect(reads).toHaveBeenCalledTimes(1);
});
