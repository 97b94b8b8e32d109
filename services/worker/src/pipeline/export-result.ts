import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyCStoreStatus, sendInstancesDimse, type InstanceSendResult } from '@mipseg/dimse';
import { stowTokenFor, type Config } from '@mipseg/shared/config';
import { DicomFailureReason, isMipsegError, toMipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import type { ExportStatus, ResultUids } from '@mipseg/shared/queue';
import { stowInstances } from './result-sink';
import { deliveredNote, type InstanceNames } from './stow-failure';
import type { StudySource } from './study-source';

export interface ExportDeps {
  readonly source: StudySource;
  readonly callingAeTitle: string;
  readonly log: Logger;
  /** The bearer token for a `stow:` destination (config's stowTokenFor); undefined or empty = none. */
  readonly stowTokenFor?: (destination: string) => string;
  /** Longest a STOW-RS export may take (STOW_TIMEOUT_MS); shorter in tests. */
  readonly stowTimeoutMs?: number;
}

/** What ExportDeps takes from the configuration: our AE title for C-STORE, the tokens for STOW-RS. */
export function exportSettings(pipeline: Config['pipeline']): Pick<ExportDeps, 'callingAeTitle' | 'stowTokenFor'> {
  return { callingAeTitle: pipeline.exportAeTitle, stowTokenFor: (destination) => stowTokenFor(pipeline, destination) };
}

async function resultInstances(source: StudySource, result: ResultUids): Promise<Buffer[]> {
  const mip = await source.readSeries(result.studyInstanceUid, result.mipSeriesInstanceUid, [result.mipSopInstanceUid]);
  const seg = await source.readSeries(result.studyInstanceUid, result.segSeriesInstanceUid, [result.segSopInstanceUid]);
  return [...mip, ...seg];
}

/** What an export's detail calls the result's instances, by SOP Instance UID. */
function instanceNames(result: ResultUids): InstanceNames {
  return new Map([[result.mipSopInstanceUid, 'MIP'], [result.segSopInstanceUid, 'SEG']]);
}

/** Which of the result's instances a C-STORE result is about, its status (where one came back) and the reason. */
function describeSend(r: InstanceSendResult, result: ResultUids): string {
  const which = (r.sopInstanceUid === undefined ? undefined : instanceNames(result).get(r.sopInstanceUid)) ?? 'instance';
  const status = r.status === undefined ? 'no C-STORE status' : `C-STORE status 0x${r.status.toString(16).padStart(4, '0')}`;
  return `${which}: ${status}${r.reason ? `: ${r.reason}` : ''}`;
}

/**
 * A failure, and " (MIP delivered)" where the other instance was stored: a PACS that takes the MIP and refuses the SEG
 * (its SOP class, a failure status) shows the MIP already, which the SEG's failure alone does not say.
 */
function describeFailedSend(r: InstanceSendResult, results: readonly InstanceSendResult[], result: ResultUids): string {
  const stored = new Set(results.filter((o) => o.outcome === 'sent' || heldAlready(o)).flatMap((o) => o.sopInstanceUid ?? []));
  return describeSend(r, result) + deliveredNote(results.flatMap((o) => o.sopInstanceUid ?? []), stored, instanceNames(result));
}

/**
 * Whether a "duplicate SOP instance" (0x0111) answer means the destination already holds the instance, on any
 * attempt, the first included. The result's SOP Instance UIDs are mipseg's own (2.25 UIDs derived from a random
 * seed drawn for each analysis job, resultUidSeed), so the only copy a destination can hold under one of them is
 * one that mipseg sent: an earlier attempt that lost its connection or its response. The attempt number cannot
 * tell: the Retry button starts again from attempt 1 (the embedded runner sets attempts to 0, BullMQ resets
 * attemptsMade), and a send cut short by a crash is sent again as the same attempt. Refusing the duplicate there
 * would fail every retry of a result that did arrive.
 */
function heldAlready(r: InstanceSendResult): boolean {
  return r.status === DicomFailureReason.DuplicateSopInstance;
}

async function sendDimse(destination: string, instances: Buffer[], result: ResultUids,
  deps: ExportDeps): Promise<Omit<ExportStatus, 'destination' | 'attempts' | 'updatedAt'>> {
  const m = /^dimse:(.+)@([^:@]+):(\d+)$/.exec(destination);
  if (!m) return { state: 'failed', detail: `bad destination ${destination}` };
  const dir = await mkdtemp(join(tmpdir(), 'mipseg-export-'));
  try {
    const files = await Promise.all(instances.map(async (b, i) => {
      const path = join(dir, `${i}.dcm`);
      await writeFile(path, b);
      return path;
    }));
    const results = await sendInstancesDimse({ host: m[2] as string, port: Number(m[3]), calledAeTitle: m[1] as string,
      callingAeTitle: deps.callingAeTitle, files, log: deps.log });
    // Every instance's own status counts: one failure means the result did not arrive whole.
    const failed = results.find((r) => r.outcome === 'failed' && !heldAlready(r));
    if (failed) return { state: 'failed', detail: describeFailedSend(failed, results, result) };
    const retryable = results.find((r) => r.outcome === 'retryable');
    if (retryable) return { state: 'retrying', detail: describeFailedSend(retryable, results, result) };
    const duplicates = results.filter(heldAlready).length;
    // Stored, but perhaps not as sent (B000 coercion, B007 data set does not match SOP class, …): what the PACS
    // said goes into the detail the jobs API and the worklist show, as STOW-RS warnings go into its response.
    const warned = results.filter((r) => r.status !== undefined && classifyCStoreStatus(r.status) === 'warning');
    return { state: 'sent', detail: `${results.length} instance(s) stored` +
      (duplicates ? ` (${duplicates} already there from an earlier send)` : '') +
      (warned.length ? `, ${warned.length} with a warning; ${warned.map((r) => describeSend(r, result)).join('; ')}` : '') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `sent` only when the destination referenced every instance; a refusal fails at once, anything else (down,
 * out of resources, an answer that confirms nothing) is retried and becomes `failed` after the last attempt.
 */
async function sendStow(destination: string, instances: Buffer[], result: ResultUids,
  deps: ExportDeps): Promise<Omit<ExportStatus, 'destination' | 'attempts' | 'updatedAt'>> {
  try {
    // As by C-STORE (see heldAlready): "duplicate" (0x0111) for one of the result's own instances means it is there.
    const { warnings } = await stowInstances(destination.slice('stow:'.length).replace(/\/+$/, ''), instances,
      deps.stowTokenFor?.(destination), { duplicatesAreStored: true, names: instanceNames(result),
        ...(deps.stowTimeoutMs === undefined ? {} : { timeoutMs: deps.stowTimeoutMs }) });
    // As by C-STORE: stored, perhaps not as sent, and the PACS's reasons are shown.
    return { state: 'sent', detail: `${instances.length} instance(s) stored` +
      (warnings.length ? `, ${warnings.length} with a warning; ${warnings.join('; ')}` : '') };
  } catch (err) {
    const error = toMipsegError(err);
    return { state: isMipsegError(err, 'MIPSEG_EXPORT_REFUSED') ? 'failed' : 'retrying', detail: error.message };
  }
}

/**
 * The result's instances, or undefined where a reader deleted its series: a result that no longer exists will not
 * reappear, so retrying the export (up to EXPORT_ATTEMPTS) only postpones its failure. A "not found" is taken for a
 * deletion only once the archive confirms a series is gone: a worker reads through GATEWAY_URL, where a 404 may also
 * come from a proxy in front of a restarting gateway, and that is retried like any other transient failure.
 */
async function resultInstancesIfKept(source: StudySource, result: ResultUids): Promise<Buffer[] | undefined> {
  try {
    return await resultInstances(source, result);
  } catch (err) {
    if (!isMipsegError(err, 'MIPSEG_NOT_FOUND')) throw err;
    const kept = await Promise.all([result.mipSeriesInstanceUid, result.segSeriesInstanceUid]
      .map((series) => source.hasSeries(result.studyInstanceUid, series)));
    if (kept.every(Boolean)) throw err;
    return undefined;
  }
}

/** Sends a result (MIP + SEG) to one destination: `stow:<url>` or `dimse:<AE>@<host>:<port>`. */
export async function exportResult(result: ResultUids, destination: string, attempt: number, deps: ExportDeps): Promise<ExportStatus> {
  const instances = await resultInstancesIfKept(deps.source, result);
  if (instances === undefined) {
    return { destination, attempts: attempt, updatedAt: Date.now(), state: 'failed',
      detail: `the result series (MIP ${result.mipSeriesInstanceUid}, SEG ${result.segSeriesInstanceUid}) was deleted: nothing to send` };
  }
  const status = destination.startsWith('dimse:')
    ? await sendDimse(destination, instances, result, deps)
    : await sendStow(destination, instances, result, deps);
  return { destination, attempts: attempt, updatedAt: Date.now(), ...status };
}
