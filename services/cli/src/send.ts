import { promises as fs, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SingleBar, Presets } from 'cli-progress';
import { fileMetaUids } from '@mipseg/shared/dicom';
import { fetchFailureCause } from '@mipseg/shared/errors';
import { countAnswered } from './stow-answer';
import { multipartBody, newBoundary, planBatches } from './stow-batches';

export interface SendOptions {
  readonly url: string;
  readonly token?: string;
  /** Instances per STOW request: bounded so that a failure costs one batch, not the study. */
  readonly batchSize: number;
  /**
   * Most bytes of one STOW request body (DEFAULT_MAX_REQUEST_BYTES when not given): a server stops reading past its
   * own limit (the gateway's MAX_REQUEST_BYTES), so a request of a few large multi-frame files is closed early. A file
   * larger than this is sent alone.
   */
  readonly maxRequestBytes?: number;
  readonly progress: boolean;
}

export interface SendSummary {
  readonly files: number;
  readonly stored: number;
  readonly failed: number;
  /**
   * Files the server answered for neither as stored nor as failed: it stopped reading the request (a 202 with a
   * `Warning`, e.g. past MAX_PARTS_PER_REQUEST) or its answer listed fewer instances than were sent.
   */
  readonly notStored: number;
  /**
   * Of `notStored`, those of the batch that stopped the send (what its answer did not list) and of the batches after
   * it: not stored because sending stopped (`stoppedBy` says why), not because the server cut a request short.
   */
  readonly notStoredAsStopped: number;
  /** The distinct `Warning` headers of the answers, which say why a request was cut short. */
  readonly warnings: string[];
  readonly bytes: number;
  readonly seconds: number;
  readonly statuses: number[];
  /** Why sending stopped before the last batch (the server could not be reached, say); the rest count as not stored. */
  readonly stoppedBy?: string;
}

/**
 * Bytes per STOW-RS request body by default: well under the gateway's MAX_REQUEST_BYTES (8 GiB), and a request that
 * fails then costs at most this much to send again.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 1024 ** 3;

/** Media Storage Directory Storage: a DICOMDIR, the index of a DICOM CD, not an instance STOW-RS can store. */
const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';
/** Enough of a file for its File Meta Information (a few hundred bytes as written, seldom over a kilobyte). */
const HEAD_BYTES = 4096;

/** What a file is to `send`: an instance to send, a DICOMDIR, or not PS3.10 at all (no 128-byte preamble and "DICM"). */
export type FileKind = 'instance' | 'dicomdir' | 'not-part10';

export async function fileKind(path: string): Promise<FileKind> {
  const head = await readHead(path);
  if (head.length < 132 || head.toString('latin1', 128, 132) !== 'DICM') return 'not-part10';
  return fileMetaUids(head).sopClassUid === MEDIA_STORAGE_DIRECTORY ? 'dicomdir' : 'instance';
}

/** The SOP Instance UID a file's File Meta Information names; undefined where it cannot be read. */
async function fileSopInstanceUid(path: string): Promise<string | undefined> {
  return fileMetaUids(await readHead(path)).sopInstanceUid;
}

/** A file's first HEAD_BYTES (fewer where it is shorter). */
async function readHead(path: string): Promise<Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** What listFolder found: the files, and how many hidden entries (names starting with ".") it left out. */
export interface FolderListing {
  readonly files: string[];
  readonly hiddenFiles: number;
  readonly hiddenFolders: number;
}

/**
 * Lists files under a path (a file, or a folder walked recursively), leaving out hidden files and folders (names
 * starting with "."), which it counts, so that the CLI can say so. Symbolic links are followed; a folder reached again
 * (a link cycle, or two links to it) is walked once, and a file reached again (a link beside it) listed once, in
 * sorted order the first way. A dangling link throws (ENOENT, naming it), as a file that cannot be read does, rather
 * than being left out unseen.
 */
export async function listFolder(path: string): Promise<FolderListing> {
  const stat = await fs.stat(path);
  if (stat.isFile()) return { files: [path], hiddenFiles: 0, hiddenFolders: 0 };
  const walk: Walk = { visited: new Set(), found: [], hiddenFiles: 0, hiddenFolders: 0 };
  await walkFolder(path, walk);
  const seen = new Set<string>();
  const files = walk.found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .filter((f) => !seen.has(f.real) && seen.add(f.real)).map((f) => f.path);
  return { files, hiddenFiles: walk.hiddenFiles, hiddenFolders: walk.hiddenFolders };
}

/** The files under a path, as listFolder finds them. */
export async function listFiles(path: string): Promise<string[]> {
  return (await listFolder(path)).files;
}

/** A walk so far: the real paths of the folders walked, the files found, and the hidden entries left out. */
interface Walk {
  readonly visited: Set<string>;
  readonly found: Array<{ path: string; real: string }>;
  hiddenFiles: number;
  hiddenFolders: number;
}

/** Adds the files under `folder` to the walk, unless its real path was walked already. */
async function walkFolder(folder: string, walk: Walk): Promise<void> {
  const real = await fs.realpath(folder);
  if (walk.visited.has(real)) return;
  walk.visited.add(real);
  for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
    const full = join(folder, entry.name);
    if (entry.name.startsWith('.')) {
      await countHidden(entry, full, walk);
      continue;
    }
    // A link's own type is neither file nor folder: its target's is what counts.
    const target = entry.isSymbolicLink() ? await fs.stat(full) : entry;
    if (target.isDirectory()) await walkFolder(full, walk);
    else if (target.isFile()) walk.found.push({ path: full, real: entry.isSymbolicLink() ? await fs.realpath(full) : join(real, entry.name) });
  }
}

/** Counts a hidden entry as a folder or a file; a link by its target, and one that dangles as a file (it is not read). */
async function countHidden(entry: Dirent, full: string, walk: Walk): Promise<void> {
  const target = entry.isSymbolicLink() ? await fs.stat(full).catch(() => undefined) : entry;
  if (target?.isDirectory()) walk.hiddenFolders += 1;
  else walk.hiddenFiles += 1;
}

/** Files checked at once by sortFiles: each check holds a descriptor, and a folder may hold more files than the limit. */
const CHECKS_AT_ONCE = 32;

/** The files to send, in order, and how many of the others are DICOMDIRs and how many not PS3.10 (fileKind). */
export interface SortedFiles {
  readonly instances: string[];
  readonly dicomdirs: number;
  readonly notPart10: number;
}

/** Sorts files by fileKind, CHECKS_AT_ONCE at a time. */
export async function sortFiles(files: readonly string[]): Promise<SortedFiles> {
  const kinds = await mapAtMost(files, CHECKS_AT_ONCE, fileKind);
  const count = (kind: FileKind): number => kinds.filter((k) => k === kind).length;
  return { instances: files.filter((_, i) => kinds[i] === 'instance'), dicomdirs: count('dicomdir'), notPart10: count('not-part10') };
}

/** `read` of each file, in order, `atOnce` at a time. */
async function mapAtMost<T>(files: readonly string[], atOnce: number, read: (path: string) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) results[i] = await read(files[i] as string);
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, files.length) }, worker));
  return results;
}

interface StowResult {
  status: number;
  stored: number;
  failed: number;
  warning: string | null;
  location: string | null;
}

async function postBatch(files: readonly string[], options: SendOptions, onBytes: (n: number) => void): Promise<StowResult> {
  // Read before sending: the answer's counts are matched against the instances this request holds.
  const uids = await mapAtMost(files, CHECKS_AT_ONCE, fileSopInstanceUid);
  const boundary = newBoundary();
  const headers: Record<string, string> = {
    'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
    Accept: 'application/dicom+json',
  };
  if (options.token) headers['Authorization'] = `Bearer ${options.token}`;
  // A streamed request body needs duplex 'half', which Node's fetch takes but its RequestInit type lacks.
  const init = { method: 'POST', headers, body: Readable.toWeb(multipartBody(files, boundary, onBytes)), duplex: 'half' };
  // Not followed: fetch cannot send a streamed body again, and would fail with a bare "fetch failed".
  const studies = `${options.url.replace(/\/$/, '')}/studies`;
  const res = await fetch(studies, { ...init, redirect: 'manual' } as RequestInit);
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null; // an error page, not DICOM JSON: counted from the status alone
  }
  const { stored, failed } = countAnswered(uids, body);
  return { status: res.status, stored, failed: res.status >= 400 && stored + failed === 0 ? files.length : failed,
    warning: res.headers.get('warning'), location: suggestedUrl(res.headers.get('location'), res.url || studies) };
}

/**
 * The base URL to give as --url after a redirect: the Location resolved against the request's URL, without the
 * `/studies` the request added and without user:password; null where there is none or it does not parse.
 */
function suggestedUrl(location: string | null, requested: string): string | null {
  if (!location) return null;
  try {
    const url = new URL(location, requested);
    // Not a DICOMweb base (a sign-in page's, say): nothing to suggest.
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    url.pathname = url.pathname.replace(/\/studies\/?$/, '');
    return url.href.replace(/\/$/, '');
  } catch {
    return null;
  }
}

/**
 * Why no later batch can fare better than one answered `result`, or undefined where one may: a token refused, the
 * server's storage full, or a redirect (another URL is to be given: one with user:password in it is not shown).
 */
function stopReason(result: StowResult): string | undefined {
  const { status } = result;
  if (status === 401 || status === 403) {
    return `the server refused the request (HTTP ${status}${status === 401 ? ': a token is missing or not accepted, see --token or MIPSEG_TOKEN' : ''})`;
  }
  if (status === 507) return 'the server has no room to store more (HTTP 507)';
  if (status >= 300 && status < 400) {
    return `the server redirected the request (HTTP ${status})${result.location ? `: try --url ${result.location}` : ''}`;
  }
  return undefined;
}

/**
 * A pooled keep-alive connection may have been closed by the server (a restart): fetch then fails before
 * any answer. STOW-RS is idempotent here (an identical re-send changes nothing), so the batch is sent once more.
 */
async function postBatchOnce(files: readonly string[], options: SendOptions, onBytes: (n: number) => void): Promise<StowResult> {
  try {
    return await postBatch(files, options, onBytes);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return postBatch(files, options, () => undefined);
  }
}

/** Sends DICOM files to a DICOMweb server by STOW-RS, in batches, with a progress bar on stderr. */
export async function sendFiles(files: readonly string[], options: SendOptions): Promise<SendSummary> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new RangeError(`batch size must be a whole number from 1, not ${options.batchSize}`);
  }
  const { maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES } = options;
  if (!Number.isSafeInteger(maxRequestBytes) || maxRequestBytes < 1) {
    throw new RangeError(`the request byte cap must be a whole number from 1, not ${maxRequestBytes}`);
  }
  const sizes = (await Promise.all(files.map((f) => fs.stat(f)))).map((s) => s.size);
  const totalBytes = sizes.reduce((n, size) => n + size, 0);
  const bar = options.progress
    ? new SingleBar({ format: 'sending [{bar}] {percentage}% | {value}/{total} bytes | {files} files', stream: process.stderr }, Presets.shades_classic)
    : undefined;
  bar?.start(totalBytes, 0, { files: `0/${files.length}` });
  const started = Date.now();
  let sent = 0;
  let stored = 0;
  let failed = 0;
  let notStored = 0;
  let notStoredAsStopped = 0;
  const statuses: number[] = [];
  const warnings = new Set<string>();
  let stoppedBy: string | undefined;
  for (const { start, end } of planBatches(sizes, options.batchSize, maxRequestBytes)) {
    const batch = files.slice(start, end);
    let result: StowResult;
    try {
      result = await postBatchOnce(batch, options, (n) => {
        sent += n;
        bar?.update(sent);
      });
    } catch (err) {
      // The server cannot be reached (or a file cannot be read): this batch and the rest are not stored, and the
      // summary says how far it got rather than the send ending with "fetch failed" alone.
      stoppedBy = sendError(err);
      notStoredAsStopped = files.length - start;
      break;
    }
    stored += result.stored;
    failed += result.failed;
    const stop = stopReason(result);
    if (stop !== undefined) {
      // Every later batch would be answered the same way: a stale token must not upload the whole folder in vain.
      stoppedBy = stop;
      statuses.push(result.status);
      // The batches after this one, and what of this one the answer did not list (all of it, for a redirect).
      notStoredAsStopped = files.length - start - result.stored - result.failed;
      break;
    }
    // What the answer does not list was not stored either: a server that cut the request short lists only the
    // parts it read, and counting just the FailedSOPSequence reported such a send as a success.
    notStored += Math.max(0, batch.length - result.stored - result.failed);
    statuses.push(result.status);
    if (result.warning) warnings.add(result.warning);
    bar?.update(sent, { files: `${end}/${files.length}` });
  }
  bar?.stop();
  return { files: files.length, stored, failed, notStored: notStored + notStoredAsStopped, notStoredAsStopped, warnings: [...warnings], bytes: totalBytes,
    seconds: (Date.now() - started) / 1000, statuses, ...(stoppedBy === undefined ? {} : { stoppedBy }) };
}

/** The error's message, and the reason in its cause where a fetch failed ("fetch failed (ECONNREFUSED: …)"). */
function sendError(err: unknown): string {
  const { detail } = fetchFailureCause(err);
  const message = err instanceof Error ? err.message : String(err);
  return detail ? `${message} (${detail})` : message;
}
