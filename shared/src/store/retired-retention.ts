import { DAY_MS, runDaily } from '../async';
import type { Logger } from '../log';
import type { Archive } from './archive';

/**
 * Removes, at start-up and then daily, the copies of replaced instances kept under retired/ for longer than
 * `days`. Those copies let an administrator recover from a wrong replacement; kept for ever they grow with every
 * corrected re-send. A failed run is logged and tried again the next day; the service is not affected.
 */
export function scheduleRetiredPruning(archive: Archive, days: number, log: Logger): { stop(): Promise<void> } {
  // Stopping ends a run in progress before its next file: the rest is removed at the next start.
  const stopping = new AbortController();
  const schedule = runDaily(() => archive.blobs.pruneRetired(Date.now() - days * DAY_MS, stopping.signal).then(({ files, bytes }) => {
    if (files) log.info({ files, bytes, retentionDays: days }, 'removed retired copies of replaced instances');
  }, (err: unknown) => {
    log.warn({ err, retentionDays: days }, 'could not remove old retired copies; trying again tomorrow');
  }));
  return {
    stop: () => {
      stopping.abort();
      return schedule.stop();
    },
  };
}
