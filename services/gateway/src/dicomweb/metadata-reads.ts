import { setTimeout } from 'node:timers/promises';
import { BULK_DATA_PLACEHOLDER, findIndexedAttribute, readTimedOut, type DicomJson, type IndexedAttribute } from '@mipseg/shared/dicom';
import { isMipsegError, type ErrorCode, type MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import type { Archive, SearchRow, StoredInstance } from '@mipseg/shared/store';
import { qidoResultBuilder } from './qido-results';
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

/**
 * Why a copy's full metadata cannot be read, its own doing rather than the server's: not DICOM as ingest reads it now,
 * sequences nested past 32 levels, a header without what ingest requires or in a transfer syntax it does not read (all
 * stored by an earlier release). Asked for again, it fails again.
 */
const UNREADABLE_COPY: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'MIPSEG_DICOM_UNPARSEABLE', 'MIPSEG_DICOM_SEQUENCES_TOO_DEEP', 'MIPSEG_DICOM_MISSING_ATTRIBUTE', 'MIPSEG_TRANSFER_SYNTAX_NOT_SUPPORTED',
]);

/**
 * A copy given in part: one of UNREADABLE_COPY, or a read that ran past its time limit on a metadata thread. That one
 * answers MIPSEG_BUSY (the server may only have been short of CPU) and is not read again for an hour, so retrying it
 * within this response would only wait, then cut the study's answer short for the hour.
 */
export function givenInPartFor(err: unknown): err is MipsegError {
  return isMipsegError(err) && (UNREADABLE_COPY.has(err.code) || readTimedOut(err));
}

/**
 * How long a read refused as MIPSEG_BUSY (its metadata threads' queue full, or 15 s waited) waits before each retry in
 * a study's or series' metadata, which has sent part of its answer by then. After the last it fails as before (a
 * 503 where it is the first instance, else the body cut short): an entry given in part for a passing overload would
 * go out under the ETag of the whole metadata, and a viewer revalidating its copy would be told it is current.
 */
export const BUSY_RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000];

/** An instance a study's or series' metadata gives in part, and the code its read failed with. */
export interface InstanceGivenInPart {
  readonly sopInstanceUid: string;
  readonly code: ErrorCode;
}

/** Reads each instance's metadata for a study's or series' metadata response (see listedMetadataReader). */
export interface ListedMetadataReader {
  readonly read: (instance: StoredInstance) => Promise<string>;
  /** The instances given in part so far, in the order their reads failed. */
  readonly givenInPart: readonly InstanceGivenInPart[];
}

/**
 * Reads for a study's or series' metadata (PS3.18 10.4): one instance whose full metadata cannot be read (a crafted or
 * damaged copy) must not cost a viewer the study. The JSON array streams as it is read, so a failure after the first
 * bytes could only cut the body short, which OHIF and others take as the whole study failing to load, for every
 * viewer, each time. Such an instance is instead listed with what the index holds of it (see partialInstanceMetadata):
 * every target resource is represented, so the status stays 200 (PS3.18 Table 10.4.3-1; 206 says some are missing),
 * the failure is logged for an administrator, and `givenInPart` names it for a Warning where the status has not gone
 * out yet. A read refused as busy is retried (BUSY_RETRY_DELAYS_MS) while `stillWanted`. Other failures (an instance
 * deleted meanwhile, a fault of the server) fail the read as before.
 */
export function listedMetadataReader(archive: Archive, base: string, log: Logger, stillWanted: () => boolean): ListedMetadataReader {
  const givenInPart: InstanceGivenInPart[] = [];
  const read = async (instance: StoredInstance): Promise<string> => {
    try {
      return await retriedWhileBusy(() => instanceMetadataJson(archive, instance, base), stillWanted);
    } catch (err) {
      if (!givenInPartFor(err)) throw err;
      log.warn({ sopInstanceUid: instance.sopInstanceUid, studyInstanceUid: instance.studyInstanceUid, code: err.code, reason: err.message },
        'metadata of an instance given in part: its full metadata cannot be read');
      givenInPart.push({ sopInstanceUid: instance.sopInstanceUid, code: err.code });
      return JSON.stringify(partialInstanceMetadata(archive, instance, base));
    }
  };
  return { read, givenInPart };
}

async function retriedWhileBusy(read: () => Promise<string>, stillWanted: () => boolean): Promise<string> {
  for (const delayMs of BUSY_RETRY_DELAYS_MS) {
    try {
      return await read();
    } catch (err) {
      if (!isMipsegError(err) || err.code !== 'MIPSEG_BUSY' || readTimedOut(err) || !stillWanted()) throw err;
      await setTimeout(delayMs);
    }
  }
  return read();
}

/**
 * What is known of an instance whose full metadata cannot be read: the attributes the index holds, patient, study,
 * series and instance (SOP Class and Instance UIDs, InstanceNumber, Rows, Columns, BitsAllocated, NumberOfFrames),
 * built as a QIDO instance-level result with `includefield=all` is, with its RetrieveURL for an administrator to fetch
 * the copy; those it holds no value of are left out. No Pixel Data: the index lacks the rest of the Image Pixel module
 * (PhotometricInterpretation, BitsStored, PixelRepresentation), without which a viewer would draw the frames wrongly.
 * No TransferSyntaxUID either: group 0002 is in no instance's metadata (see readDicomJson). The index's row is the one
 * a search finds (patient attributes as their latest instance set them); where it is gone (deleted meanwhile), the
 * listing's own fields.
 */
export function partialInstanceMetadata(archive: Archive, instance: StoredInstance, base: string): DicomJson {
  const sopInstanceUid = findIndexedAttribute('SOPInstanceUID') as IndexedAttribute;
  const { rows } = archive.index.search({ level: 'instance', filters: [{ attribute: sopInstanceUid, value: instance.sopInstanceUid }], limit: 1, offset: 0 });
  const row: SearchRow = { ...listedRow(instance), ...rows.find((r) => r['study_uid'] === instance.studyInstanceUid) };
  const result = qidoResultBuilder('instance', base, { wanted: new Set(), includeAll: true, parentLevels: [] }).build(row, {});
  // The index holds no value both for an attribute the file has empty and for one it lacks: an attribute without a
  // Value would say which (PS3.18 F.2.5), so none is given. NumberOfFrames would read as empty for every single frame.
  return Object.fromEntries(Object.entries(result).filter(([, a]) => a.Value !== undefined));
}

function listedRow(instance: StoredInstance): SearchRow {
  return {
    study_uid: instance.studyInstanceUid, series_uid: instance.seriesInstanceUid, sop_instance_uid: instance.sopInstanceUid,
    sop_class_uid: instance.sopClassUid, instance_number: instance.instanceNumber, rows: instance.rows, columns: instance.columns,
    bits_allocated: instance.bitsAllocated, number_of_frames: instance.numberOfFrames,
  };
}

/** Most instances a Warning names; the rest are counted. A header value is best kept to a few kilobytes. */
const WARNING_NAMES_AT_MOST = 10;

/** The Warning text (PS3.18 8.4, RFC 7234 5.5) naming the instances given in part; undefined where none is. */
export function givenInPartWarning(givenInPart: readonly InstanceGivenInPart[]): string | undefined {
  if (givenInPart.length === 0) return undefined;
  const named = givenInPart.slice(0, WARNING_NAMES_AT_MOST).map((g) => `${g.sopInstanceUid} (${g.code})`);
  const more = givenInPart.length > named.length ? ` and ${givenInPart.length - named.length} more` : '';
  return `metadata of ${givenInPart.length} instance(s) given in part, as the index holds them, their full metadata `
    + `unreadable: ${named.join(', ')}${more}`;
}
