import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendInstancesDimse, type InstanceSendResult } from '@mipseg/dimse';
import { DicomFailureReason, isMipsegError, toMipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import type { ExportStatus, ResultUids } from '@mipseg/shared/queue';
import { stowInstances } from './result-sink';
import type { StudySource } from './study-source';

export interface ExportDeps {
  readonly source: StudySource;
  readonly callingAeTitle: string;
  readonly log: Logger;
  /** Bearer token for `stow:` destinations (EXPORT_STOW_TOKEN); undefined or empty = none. */
  readonly stowToken?: string;
}

async function resultInstances(source: StudySource, result: ResultUids): Promise<Buffer[]> {
  const mip = await source.readSeries(result.studyInstanceUid, result.mipSeriesInstanceUid, [result.mipSopInstanceUid]);
  const seg = await source.readSeries(result.studyInstanceUid, result.segSeriesInstanceUid, [result.segSopInstanceUid]);
  return [...mip, ...seg];
}

/** Which of the result's instances a C-STORE result is about, its status (where one came back) and the reason. */
function describeSend(r: InstanceSendResult, result: ResultUids): string {
  const which = r.sopInstanceUid === result.segSopInstanceUid ? 'SEG' : r.sopInstanceUid === result.mipSopInstanceUid ? 'MIP' : 'instance';
  const status = r.status === undefined ? 'no C-STORE status' : `C-STORE status 0x${r.status.toString(16).padStart(4, '0')}`;
  return `${which}: ${status}${r.reason ? `: ${r.reason}` : ''}`;
}

async function sendDimse(destination: string, instances: Buffer[], result: ResultUids, attempt: number,
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
    // A re-send after an attempt that lost its connection: the peer may have stored an instance then, and some PACS
    // answer the same instance again with "duplicate". The UIDs are this result's own, so that is the one it has.
    const alreadyStored = (r: InstanceSendResult) => attempt > 1 && r.status === DicomFailureReason.DuplicateSopInstance;
    // Every instance's own status counts: one failure means the result did not arrive whole.
    const failed = results.find((r) => r.outcome === 'failed' && !alreadyStored(r));
    if (failed) return { state: 'failed', detail: describeSend(failed, result) };
    const retryable = results.find((r) => r.outcome === 'retryable');
    if (retryable) return { state: 'retrying', detail: describeSend(retryable, result) };
    const duplicates = results.filter(alreadyStored).length;
    return { state: 'sent', detail: `${results.length} instance(s) stored${duplicates ? ` (${duplicates} already there from an earlier attempt)` : ''}` };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `sent` only when the destination referenced every instance; a refusal fails at once, anything else (down,
 * out of resources, an answer that confirms nothing) is retried and becomes `failed` after the last attempt.
 */
async function sendStow(destination: string, instances: Buffer[], token: string | undefined,
  attempt: number): Promise<Omit<ExportStatus, 'destination' | 'attempts' | 'updatedAt'>> {
  try {
    // As by C-STORE: on a re-send, "duplicate" (0x0111) for one of the result's own instances means it is there.
    await stowInstances(destination.slice('stow:'.length).replace(/\/$/, ''), instances, token, { duplicatesAreStored: attempt > 1 });
    return { state: 'sent', detail: `${instances.length} instance(s) stored` };
  } catch (err) {
    const error = toMipsegError(err);
    return { state: isMipsegError(err, 'MIPSEG_EXPORT_REFUSED') ? 'failed' : 'retrying', detail: error.message };
  }
}

/** Sends a result (MIP + SEG) to one destination: `stow:<url>` or `dimse:<AE>@<host>:<port>`. */
export async function exportResult(result: ResultUids, destination: string, attempt: number, deps: ExportDeps): Promise<ExportStatus> {
  const instances = await resultInstances(deps.source, result);
  const status = destination.startsWith('dimse:')
    ? await sendDimse(destination, instances, result, attempt, deps)
    : await sendStow(destination, instances, deps.stowToken, attempt);
  return { destination, attempts: attempt, updatedAt: Date.now(), ...status };
}
