import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@mipseg/shared/log';
import { EmbeddedJobQueue, type EmbeddedQueueOptions } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';

/** An archive and an embedded job queue in a temporary folder: what the pipeline's planning and jobs run against. */
export interface ArchiveAndQueue {
  readonly dir: string;
  readonly archive: Archive;
  readonly queue: EmbeddedJobQueue;
  /** Closes the queue and the archive and removes the folder. */
  close(): Promise<void>;
}

/** Opens them in a new folder named after `prefix` (the archive under data/, the jobs in jobs.sqlite). */
export async function openArchiveAndQueue(prefix: string, log: Logger, queueOptions: EmbeddedQueueOptions): Promise<ArchiveAndQueue> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const archive = await Archive.open(join(dir, 'data'), log);
  const queue = new EmbeddedJobQueue(join(dir, 'jobs.sqlite'), log, queueOptions);
  return {
    dir, archive, queue,
    close: async () => {
      await queue.close();
      archive.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
