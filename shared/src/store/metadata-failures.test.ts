import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { CODE_VALUE, withNestedSequences } from '../../../test/support/nested-sequences';
import { unparseablePetInstance } from '../../../test/support/unparseable-dicom';
import * as dcmjs from 'dcmjs';
import * as dicomJson from '../dicom/dicom-json';
import { isMipsegError, type MipsegError } from '../errors';
import { createLogger } from '../log';
import { Archive } from './archive';
import type { StoredInstance } from './sqlite-index';

const SOP = '2.25.5153.1';
let dir: string;
let archive: Archive;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mipseg-metadata-failures-'));
  archive = await Archive.open(dir, createLogger('silent'));
});

afterEach(() => {
  jest.restoreAllMocks();
  archive.close();
  rmSync(dir, { recursive: true, force: true });
});

async function store(bytes: Uint8Array): Promise<StoredInstance> {
  const temp = join(dir, 'tmp', 'one.part');
  writeFileSync(temp, bytes);
  expect((await archive.storeFromTemp(temp)).status).toBe('stored');
  return archive.index.findInstance(SOP) as StoredInstance;
}

/**
 * A stored copy its metadata cannot be read from, as one stored before ingest refused such nesting: the stored file
 * is overwritten in place, the index still naming the copy it stored.
 */
async function storeUnreadable(): Promise<StoredInstance> {
  const instance = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100000' }));
  writeFileSync(join(dir, instance.storageKey), withNestedSequences(syntheticPetInstance({ sopInstanceUid: SOP }), 40, CODE_VALUE));
  return instance;
}

async function errorOfRead(instance: StoredInstance): Promise<MipsegError> {
  try {
    await archive.readMetadata(instance);
  } catch (err) {
    if (isMipsegError(err)) return err;
    throw err;
  }
  throw new Error('read');
}

async function codeOfRead(instance: StoredInstance): Promise<string | undefined> {
  try {
    await archive.readMetadata(instance);
    return undefined;
  } catch (err) {
    return isMipsegError(err) ? err.code : 'not a MipsegError';
  }
}

test('a stored copy whose metadata cannot be read is parsed once: the next read answers the same error', async () => {
  const instance = await storeUnreadable();
  const reads = jest.spyOn(dicomJson, 'readDicomJson');
  expect(await codeOfRead(instance)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  expect(await codeOfRead(instance)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  expect(reads).toHaveBeenCalledTimes(1);
});

test('the failure follows the stored copy: a replacement of the instance is read', async () => {
  const unreadable = await storeUnreadable();
  expect(await codeOfRead(unreadable)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  const replacement = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100500' }));
  expect(replacement.sha256).not.toBe(unreadable.sha256);
  const json = JSON.parse(await archive.readMetadata(replacement)) as Record<string, unknown>;
  expect(json['00080018']).toEqual({ vr: 'UI', Value: [SOP] });
});

// dicom-parser's error holds the data set it read so far, with the whole file's bytes: a large multi-frame file's.
test('what is remembered of a failed read is its code and words, not the file it was read from', async () => {
  const instance = await store(syntheticPetInstance({ sopInstanceUid: SOP }));
  writeFileSync(join(dir, instance.storageKey), unparseablePetInstance(SOP));
  const first = await errorOfRead(instance);
  const again = await errorOfRead(instance);
  expect(again.code).toBe('MIPSEG_DICOM_UNPARSEABLE');
  expect(again.message).toBe(first.message);
  expect(again.cause).toBeUndefined();
});

test('a read that failed for want of memory is not remembered: the next read answers the metadata', async () => {
  const instance = await store(syntheticPetInstance({ sopInstanceUid: SOP }));
  jest.spyOn(dcmjs.data.DicomMessage, 'readFile').mockImplementationOnce(() => {
    throw new RangeError('Array buffer allocation failed');
  });
  expect(await codeOfRead(instance)).toBe('MIPSEG_DICOM_UNPARSEABLE');
  const json = JSON.parse(await archive.readMetadata(instance)) as Record<string, unknown>;
  expect(json['00080018']).toEqual({ vr: 'UI', Value: [SOP] });
});

// The bytes read were the replacement's, not those of the copy the caller looked up: its key must not name them.
test('a failed read of a copy replaced since it was looked up is not remembered for that copy', async () => {
  const replaced = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100000' }));
  const replacement = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100500' }));
  expect(replacement.storageKey).toBe(replaced.storageKey);
  writeFileSync(join(dir, replacement.storageKey), unparseablePetInstance(SOP));
  const reads = jest.spyOn(dicomJson, 'readDicomJson');
  expect(await codeOfRead(replaced)).toBe('MIPSEG_DICOM_UNPARSEABLE');
  expect(await codeOfRead(replaced)).toBe('MIPSEG_DICOM_UNPARSEABLE');
  expect(reads).toHaveBeenCalledTimes(2);
});
