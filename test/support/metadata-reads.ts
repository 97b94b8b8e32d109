import { isMipsegError, type MipsegError } from '@mipseg/shared/errors';
import type { Archive, StoredInstance } from '@mipseg/shared/store';

/** How many Archive.readMetadata calls `during` made, and the most of them in flight at once. */
export async function watchMetadataReads(archive: Archive, during: () => Promise<void>): Promise<{ calls: number; mostAtOnce: number }> {
  const read = archive.readMetadata.bind(archive);
  let inFlight = 0;
  let mostAtOnce = 0;
  let calls = 0;
  const spy = jest.spyOn(archive, 'readMetadata').mockImplementation(async (instance) => {
    calls++;
    mostAtOnce = Math.max(mostAtOnce, ++inFlight);
    try {
      return await read(instance);
    } finally {
      inFlight--;
    }
  });
  try {
    await during();
  } finally {
    spy.mockRestore();
  }
  return { calls, mostAtOnce };
}

/** The code `instance`'s metadata read fails with, or undefined when it is read. */
export async function codeOfMetadataRead(archive: Archive, instance: StoredInstance): Promise<string | undefined> {
  try {
    await archive.readMetadata(instance);
    return undefined;
  } catch (err) {
    return isMipsegError(err) ? err.code : 'not a MipsegError';
  }
}

/** The error `instance`'s metadata read fails with; a read that does not fail with a MipsegError fails the test. */
export async function errorOfMetadataRead(archive: Archive, instance: StoredInstance): Promise<MipsegError> {
  try {
    await archive.readMetadata(instance);
  } catch (err) {
    if (isMipsegError(err)) return err;
    throw err;
  }
  throw new Error('read');
}
