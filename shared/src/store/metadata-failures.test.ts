import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { codeOfMetadataRead, errorOfMetadataRead } from '../../../test/support/metadata-reads';
import { archiveForEachTest, storeInstance } from '../../../test/support/temp-archive';
import { CODE_VALUE, withNestedSequences } from '../../../test/support/nested-sequences';
import { unparseablePetInstance } from '../../../test/support/unparseable-dicom';
import * as dcmjs from 'dcmjs';
import * as dicomJson from '../dicom/dicom-json';
import type { StoredInstance } from './sqlite-index';

const SOP = '2.25.5153.1';
const temp = archiveForEachTest('mipseg-metadata-failures-');

const store = (bytes: Uint8Array): Promise<StoredInstance> => storeInstance(temp, bytes);

/**
 * A stored copy its metadata cannot be read from, as one stored before ingest refused such nesting: the stored file
 * is overwritten in place, the index still naming the copy it stored.
 */
async function storeUnreadable(): Promise<StoredInstance> {
  const instance = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100000' }));
  writeFileSync(join(temp.dir, instance.storageKey), withNestedSequences(syntheticPetInstance({ sopInstanceUid: SOP }), 40, CODE_VALUE));
  return instance;
}

test('a stored copy whose metadata cannot be read is parsed once: the next read answers the same error', async () => {
  const instance = await storeUnreadable();
  const reads = jest.spyOn(dicomJson, 'readDicomJson');
  expect(await codeOfMetadataRead(temp.archive, instance)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  expect(await codeOfMetadataRead(temp.archive, instance)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  expect(reads).toHaveBeenCalledTimes(1);
});

test('the failure follows the stored copy: a replacement of the instance is read', async () => {
  const unreadable = await storeUnreadable();
  expect(await codeOfMetadataRead(temp.archive, unreadable)).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  const replacement = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100500' }));
  expect(replacement.sha256).not.toBe(unreadable.sha256);
  const json = JSON.parse(await temp.archive.readMetadata(replacement)) as Record<string, unknown>;
  expect(json['00080018']).toEqual({ vr: 'UI', Value: [SOP] });
});

// dicom-parser's error holds the data set it read so far, with the whole file's bytes: a large multi-frame file's.
test('what is remembered of a failed read is its code and words, not the file it was read from', async () => {
  const instance = await store(syntheticPetInstance({ sopInstanceUid: SOP }));
  writeFileSync(join(temp.dir, instance.storageKey), unparseablePetInstance(SOP));
  const first = await errorOfMetadataRead(temp.archive, instance);
  const again = await errorOfMetadataRead(temp.archive, instance);
  expect(again.code).toBe('MIPSEG_DICOM_UNPARSEABLE');
  expect(again.message).toBe(first.message);
  expect(again.cause).toBeUndefined();
});

test('a read that failed for want of memory is not remembered: the next read answers the metadata', async () => {
  const instance = await store(syntheticPetInstance({ sopInstanceUid: SOP }));
  jest.spyOn(dcmjs.data.DicomMessage, 'readFile').mockImplementationOnce(() => {
    throw new RangeError('Array buffer allocation failed');
  });
  expect(await codeOfMetadataRead(temp.archive, instance)).toBe('MIPSEG_DICOM_UNPARSEABLE');
  const json = JSON.parse(await temp.archive.readMetadata(instance)) as Record<string, unknown>;
  expect(json['00080018']).toEqual({ vr: 'UI', Value: [SOP] });
});

// The bytes read were the replacement's, not those of the copy the caller looked up: its key must not name them.
test('a failed read of a copy replaced since it was looked up is not remembered for that copy', async () => {
  const replaced = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100000' }));
  const replacement = await store(syntheticPetInstance({ sopInstanceUid: SOP, acquisitionTime: '100500' }));
  expect(replacement.storageKey).toBe(replaced.storageKey);
  writeFileSync(join(temp.dir, replacement.storageKey), unparseablePetInstance(SOP));
  const reads = jest.spyOn(dicomJson, 'readDicomJson');
  expect(await codeOfMetadataRead(temp.archive, replaced)).toBe('MIPSEG_DICOM_UNPARSEABLE');
  expect(await codeOfMetadataRead(temp.archive, replaced)).toBe('MIPSEG_DICOM_UNPARSEABLE');
  expect(reads).toHaveBeenCalledTimes(2);
});
