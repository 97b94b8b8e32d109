import type { Logger } from '@mipseg/shared/log';
import { type Archive, scheduleRetiredPruning } from '@mipseg/shared/store';

export interface ArchiveUpkeepOptions {
  /** RETIRED_RETENTION_DAYS; 0 keeps retired copies for ever. */
  readonly retiredRetentionDays: number;
  /** Store the instance files no index row lists, in series it knows (--index-unlisted-files); else only count them. */
  readonly indexUnlistedFiles: boolean;
}

/** Writes again, from the files in place, the index rows of replacements a process did not finish (see the Archive method). */
async function repairInterruptedReplacements(archive: Archive, log: Logger, stop: AbortSignal): Promise<void> {
  const { checked, repaired, failed, examples } = await archive.repairInterruptedReplacements({ stop });
  if (repaired + failed > 0) log.warn({ checked, repaired, failed, examples }, 'replacements a process did not finish: index rows written again from the files in place');
}

/**
 * Looks for instance files that no index row lists in a series it knows (Archive.findUnlistedFiles), and says how
 * many; with `index` (--index-unlisted-files) stores them.
 */
async function lookForUnlistedFiles(archive: Archive, log: Logger, index: boolean, stop: AbortSignal): Promise<void> {
  const { unlisted, indexed, refused, examples } = await archive.findUnlistedFiles({ index, stop });
  if (unlisted === 0) return;
  if (index) log.warn({ unlisted, indexed, refused, examples }, 'instance files no index row listed: indexed where they could be');
  else log.warn({ unlisted, examples }, 'instance files that no index row lists, in series the index knows: left as they are. ' +
    'After a crash or a restored index backup, start once with --index-unlisted-files to store them; files an earlier ' +
    'release could not remove when it deleted an instance look the same (README, Operations)');
}

/**
 * The archive's upkeep, started in the background once the service is up (what it stores records study checks, which
 * need the pipeline's queue or outbox): first the replacements a process did not finish, whose retired copies tell
 * them; then, those looked at, the daily pruning of retired copies (which would otherwise remove that evidence of a
 * crash older than the retention) and the search for unlisted files. A failed step is logged and the next still runs.
 * `stop` ends each before its next file; what is left is looked at at the next start.
 */
export function startArchiveUpkeep(archive: Archive, options: ArchiveUpkeepOptions, log: Logger): { stop(): Promise<void> } {
  const stopping = new AbortController();
  let pruning: { stop(): Promise<void> } | undefined;
  const run = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => repairInterruptedReplacements(archive, log, stopping.signal).then(() => true, (err: unknown) => {
      // No pruning this time: it could remove the retired copy that shows an unfinished replacement not yet looked at.
      log.error({ err }, 'could not look for replacements a process did not finish; retired copies are not pruned until a start can');
      return false;
    }))
    .then((looked) => {
      if (looked && options.retiredRetentionDays > 0 && !stopping.signal.aborted) pruning = scheduleRetiredPruning(archive, options.retiredRetentionDays, log);
      return lookForUnlistedFiles(archive, log, options.indexUnlistedFiles, stopping.signal);
    })
    .catch((err: unknown) => log.error({ err }, 'could not look for instance files no index row lists'));
  return {
    stop: async () => {
      stopping.abort();
      await run;
      await pruning?.stop();
    },
  };
}
