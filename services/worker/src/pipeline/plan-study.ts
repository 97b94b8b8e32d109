import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from '@mipseg/shared/log';
import type { AnalysisPlan, JobQueue } from '@mipseg/shared/queue';
import type { Archive, StoredInstance } from '@mipseg/shared/store';
import { readPetSeriesHeader, selectPetSeries, type PetSeriesCandidate } from '../selection';

export interface PlanOutcome {
  readonly kind: 'queued' | 'unchanged' | 'not-applicable';
  readonly jobId: string;
  readonly reason?: string;
}

function hashOf(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 20);
}

/** Makes an on-demand run's job id its own: the time, readable in the id, and random bits, since two clicks can share a millisecond. */
function onDemandSuffix(): string {
  return `-${Date.now()}-${randomBytes(3).toString('hex')}`;
}

function bySeries(instances: readonly StoredInstance[]): Map<string, StoredInstance[]> {
  const out = new Map<string, StoredInstance[]>();
  for (const i of instances) {
    const series = out.get(i.seriesInstanceUid);
    if (series) series.push(i);
    else out.set(i.seriesInstanceUid, [i]);
  }
  return out;
}

/**
 * Each series' header, from its first instance. A header that does not parse leaves its series out (bad data
 * stays bad); a file that cannot be read (EMFILE, EIO) fails the whole check, which is then retried, since
 * leaving the PET series out would record the study as "not applicable" for good.
 */
async function candidates(archive: Archive, series: Map<string, StoredInstance[]>, log: Logger): Promise<PetSeriesCandidate[]> {
  const out: PetSeriesCandidate[] = [];
  for (const [uid, instances] of series) {
    const bytes = await archive.blobs.read((instances[0] as StoredInstance).storageKey);
    try {
      out.push({ header: readPetSeriesHeader(bytes), instanceCount: instances.length });
    } catch (err) {
      log.warn({ err, seriesInstanceUid: uid }, 'series header unreadable; series skipped');
    }
  }
  return out;
}

/**
 * Decides what to analyse in a study once it is quiet: the eligible PET series, as a job whose id is
 * derived from the series' content (SOP Instance UIDs and file hashes). The same content gives the same
 * id, so a re-send or mipseg's own results arriving add nothing; a late or changed instance gives a new
 * id and a new result version. `force` (on demand) always makes a new version.
 */
export async function planStudy(
  studyInstanceUid: string,
  deps: { archive: Archive; queue: JobQueue; log: Logger; minPetSlices: number },
  options: { force?: boolean } = {},
): Promise<PlanOutcome> {
  const { archive, queue, log } = deps;
  const series = bySeries(archive.index.listInstances({ studyUid: studyInstanceUid }));
  const selection = selectPetSeries(await candidates(archive, series, log), { minSlices: deps.minPetSlices });
  if (selection.status === 'not-applicable') {
    // The instance counts too: a series still arriving ("200 of 267 slices") gets a new verdict with each check.
    const seen = [...series].map(([uid, instances]) => `${uid}:${instances.length}`).sort();
    const jobId = `na-${hashOf([studyInstanceUid, ...seen])}${options.force ? onDemandSuffix() : ''}`;
    await queue.recordNotApplicable(jobId, studyInstanceUid, selection.reason);
    log.info({ studyInstanceUid, reason: selection.reason }, 'study not applicable');
    return { kind: 'not-applicable', jobId, reason: selection.reason };
  }
  const seriesUid = selection.series.header.seriesInstanceUid;
  const instances = series.get(seriesUid) ?? [];
  const contentHash = hashOf(instances.map((i) => `${i.sopInstanceUid}:${i.sha256}`).sort());
  const jobId = `seg-${hashOf([seriesUid])}-${contentHash}${options.force ? onDemandSuffix() : ''}`;
  if (await queue.hasJob(jobId)) return { kind: 'unchanged', jobId };
  const plan: AnalysisPlan = {
    studyInstanceUid,
    seriesInstanceUid: seriesUid,
    sopInstanceUids: instances.map((i) => i.sopInstanceUid),
    contentHash,
    reason: options.force ? 'on-demand' : 'study-complete',
    resultUidSeed: randomUUID(),
  };
  const queued = await queue.enqueueAnalysis(jobId, plan);
  if (!queued.created) return { kind: 'unchanged', jobId };
  log.info({ jobId, studyInstanceUid, seriesInstanceUid: seriesUid, version: queued.version }, 'analysis queued');
  return { kind: 'queued', jobId };
}
