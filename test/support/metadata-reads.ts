import type { Archive } from '@mipseg/shared/store';

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
