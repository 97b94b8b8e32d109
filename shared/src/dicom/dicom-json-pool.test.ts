import { join } from 'node:path';
import { mipsegErrorThrownBy, syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { THREAD_DIES, THREAD_HANGS } from '../../../test/support/dicom-json-test-thread';
import { CODE_VALUE, withNestedSequences } from '../../../test/support/nested-sequences';
import { unparseablePetInstance } from '../../../test/support/unparseable-dicom';
import { isMipsegError, MipsegError } from '../errors';
import { failsOverTheBytes } from '../store/metadata-failures';
import { readDicomJson } from './dicom-json';
import { DicomJsonPool, readTimedOut, type DicomJsonPoolOptions } from './dicom-json-pool';
import { rebuildDicomJsonError, serializeDicomJsonError } from './dicom-json-thread-protocol';
import { MAX_SEQUENCE_DEPTH } from './sequence-depth';

const TEST_THREAD = join(__dirname, '..', '..', '..', 'test', 'support', 'dicom-json-test-thread.ts');
// A thread's start compiles its modules under tsx: seconds on a busy machine.
jest.setTimeout(60_000);

let pool: DicomJsonPool;

function startPool(options: DicomJsonPoolOptions = {}): DicomJsonPool {
  pool = new DicomJsonPool(options);
  return pool;
}

afterEach(async () => {
  await pool.close();
});

async function errorOf(reading: Promise<unknown>): Promise<MipsegError> {
  try {
    await reading;
  } catch (err) {
    if (isMipsegError(err)) return err;
    throw err;
  }
  throw new Error('read');
}

const pet = (): Buffer => syntheticPetInstance({ sopInstanceUid: '2.25.5159.1' });
const read = (bytes: Uint8Array, bitsAllocated: number | null = 16): Promise<string> => pool.read({ bytes, bitsAllocated, encapsulated: false });

test('starts no thread until a file is read, then reads it as the calling thread would', async () => {
  startPool();
  expect(pool.threadCount).toBe(0);
  const expected = JSON.stringify(readDicomJson(pet(), 16, false));
  expect(await read(pet())).toBe(expected);
  expect(pool.threadCount).toBe(1);
});

test('moves a file read from disk to the thread rather than copying it', async () => {
  startPool();
  const bytes = new Uint8Array(pet()); // its own ArrayBuffer, as fs.readFile's
  await read(bytes);
  expect(bytes.byteLength).toBe(0);
});

test.each([
  ['unparseable', (): Buffer => unparseablePetInstance('2.25.5159.2')],
  ['nested too deep', (): Buffer => withNestedSequences(pet(), MAX_SEQUENCE_DEPTH + 1, CODE_VALUE)],
])('a file that cannot be read (%s) fails with the same MipsegError as on the calling thread', async (_name, file) => {
  startPool();
  const inline = mipsegErrorThrownBy(() => readDicomJson(file(), 16, false));
  const pooled = await errorOf(read(file()));
  expect(pooled).toBeInstanceOf(MipsegError);
  expect({ code: pooled.code, message: pooled.message, httpStatus: pooled.httpStatus }).toEqual(
    { code: inline.code, message: inline.message, httpStatus: inline.httpStatus });
  expect(failsOverTheBytes(pooled)).toBe(true);
});

test('a failure of the process keeps the class and code of its cause across the thread: failsOverTheBytes judges it alike', () => {
  const outOfMemory = new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'Array buffer allocation failed', { cause: new RangeError('Array buffer allocation failed') });
  const system = new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'x', { cause: Object.assign(new Error('x'), { code: 'EIO' }) });
  const overTheBytes = new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'x', { cause: 'item tag (FFFE,E000) not found' });
  for (const err of [outOfMemory, system, overTheBytes]) {
    const rebuilt = rebuildDicomJsonError(serializeDicomJsonError(err));
    expect([rebuilt.code, rebuilt.message, failsOverTheBytes(rebuilt)]).toEqual([err.code, err.message, failsOverTheBytes(err)]);
  }
});

test('a thread that dies fails its read with MIPSEG_INTERNAL, not over the bytes, and another thread reads the next file', async () => {
  startPool({ size: 1, threadModule: TEST_THREAD });
  const died = await errorOf(read(pet(), THREAD_DIES));
  expect(died.code).toBe('MIPSEG_INTERNAL');
  expect(died.message).toContain('the metadata thread stopped (exit code 7)');
  expect(failsOverTheBytes(died)).toBe(false);
  expect(readTimedOut(died)).toBe(false);
  expect(await read(pet())).toBe(JSON.stringify(readDicomJson(pet(), 16, false)));
});

// The limit runs from the thread's start (its modules loaded), which under tsx on a busy machine takes seconds: a
// limit of 1 s from the request timed out the replacement thread's read of the next file before it had started.
test('a read past its time limit fails with MIPSEG_INTERNAL, marked as timed out, its thread is stopped, and the next file is read', async () => {
  startPool({ size: 1, timeoutMs: 1_000, threadModule: TEST_THREAD });
  const hanging = errorOf(read(pet(), THREAD_HANGS));
  const waiting = read(pet()); // queued behind the one that hangs: the thread that replaces it reads it
  const timedOut = await hanging;
  expect(timedOut.code).toBe('MIPSEG_INTERNAL');
  expect(timedOut.message).toContain('metadata not read within 1 s');
  expect(failsOverTheBytes(timedOut)).toBe(false); // remembered for a while only (archive), not for good
  expect(readTimedOut(timedOut)).toBe(true);
  expect(await waiting).toBe(JSON.stringify(readDicomJson(pet(), 16, false)));
});

test('a read that waits for a thread past its wait limit fails with MIPSEG_BUSY, not over the bytes, rather than wait on', async () => {
  startPool({ size: 1, threadModule: TEST_THREAD, maxWaitMs: 200 });
  const hanging = errorOf(read(pet(), THREAD_HANGS)); // holds the one thread until the pool closes
  const asked = Date.now();
  const waited = await errorOf(read(pet()));
  expect(Date.now() - asked).toBeGreaterThanOrEqual(150);
  expect(waited.code).toBe('MIPSEG_BUSY');
  expect(waited.message).toContain('waited 0.2 s for a metadata thread');
  expect([failsOverTheBytes(waited), readTimedOut(waited)]).toEqual([false, false]);
  await pool.close();
  expect((await hanging).code).toBe('MIPSEG_INTERNAL');
});

test('a read beyond the reads waiting for a thread fails at once with MIPSEG_BUSY; those waiting wait on', async () => {
  startPool({ size: 1, threadModule: TEST_THREAD, maxWaiting: 2 });
  const hanging = errorOf(read(pet(), THREAD_HANGS));
  const outcomes: string[] = [];
  const waiting = [read(pet()), read(pet())].map((r) => r.then(() => outcomes.push('read'), (err: MipsegError) => outcomes.push(err.code)));
  const refused = await errorOf(read(pet()));
  expect(refused.code).toBe('MIPSEG_BUSY');
  expect(refused.message).toContain('2 metadata reads are waiting for a thread');
  expect([failsOverTheBytes(refused), readTimedOut(refused)]).toEqual([false, false]);
  expect(outcomes).toEqual([]);
  await pool.close();
  await Promise.all([hanging, ...waiting]);
  expect(outcomes).toEqual(['MIPSEG_INTERNAL', 'MIPSEG_INTERNAL']);
});

test('close fails the file being read and those waiting, and ends every thread', async () => {
  startPool({ size: 1, threadModule: TEST_THREAD });
  const hanging = errorOf(read(pet(), THREAD_HANGS));
  const waiting = errorOf(read(pet()));
  await pool.close();
  expect((await hanging).code).toBe('MIPSEG_INTERNAL');
  expect((await waiting).code).toBe('MIPSEG_INTERNAL');
  expect(pool.threadCount).toBe(0);
  expect((await errorOf(read(pet()))).message).toContain('closed');
});
