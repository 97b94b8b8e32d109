import { BULK_DATA_PLACEHOLDER } from '@mipseg/shared/dicom';
import type { Archive, StoredInstance } from '@mipseg/shared/store';
import { instanceUrl } from './urls';

/**
 * Instances whose metadata is read at once (QIDO includefield, WADO-RS metadata): a cold cache parses each
 * whole file, and a thousand instances at once would hold a thousand files and their JSON in memory and as
 * many file handles. OHIF asks for a study's metadata each time it opens one.
 */
export const METADATA_READS_AT_ONCE = 8;

/** `map` over `items` with at most `limit` calls in flight; results in the order of `items`. */
export async function mapConcurrently<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await map(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * `map` over `items` with at most `limit` calls in flight, yielding the results in the order of `items` as each is
 * ready: a study's metadata goes out as it is read, not held whole (a 3,000-slice CT is tens of megabytes of JSON).
 * A consumer that stops early leaves the calls in flight to end on their own, their failures caught.
 */
export async function* mapInOrder<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): AsyncGenerator<R> {
  const inFlight: Promise<R>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < items.length && inFlight.length < limit) {
      const call = map(items[next++] as T);
      call.catch(() => undefined);
      inFlight.push(call);
    }
  };
  fill();
  for (let call = inFlight.shift(); call; call = inFlight.shift()) {
    const result = await call;
    fill();
    yield result;
  }
}

/** An instance's DICOM JSON with its BulkDataURIs pointing at this gateway (`base`). */
export async function instanceMetadataJson(archive: Archive, instance: StoredInstance, base: string): Promise<string> {
  const url = instanceUrl(base, instance.studyInstanceUid, instance.seriesInstanceUid, instance.sopInstanceUid);
  return (await archive.readMetadata(instance)).split(BULK_DATA_PLACEHOLDER).join(url);
}
