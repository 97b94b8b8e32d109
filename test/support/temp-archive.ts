import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@mipseg/shared/log';
import { Archive, type StoredInstance } from '@mipseg/shared/store';

/** The archive a test runs against and the temporary folder it keeps its files in. */
export interface TempArchive {
  readonly dir: string;
  readonly archive: Archive;
}

/** A TempArchive whose test may close the archive, and then opens the folder again so the clean-up closes an open one. */
export interface ReopenableTempArchive extends TempArchive {
  reopen(): Promise<void>;
}

/**
 * Gives each test of the file that calls it a new archive in a folder named after `prefix`, closed and removed after
 * the test. Jest's mocks are restored before the close, so a spy on the archive does not outlive it.
 */
export function archiveForEachTest(prefix: string): ReopenableTempArchive {
  let current: TempArchive | undefined;
  const open = async (dir: string): Promise<void> => {
    current = { dir, archive: await Archive.open(dir, createLogger('silent')) };
  };
  beforeEach(() => open(mkdtempSync(join(tmpdir(), prefix))));
  afterEach(() => {
    jest.restoreAllMocks();
    if (current === undefined) return;
    current.archive.close();
    rmSync(current.dir, { recursive: true, force: true });
    current = undefined;
  });
  const opened = (): TempArchive => {
    if (current === undefined) throw new Error('the archive is open only while a test runs');
    return current;
  };
  return {
    get dir() { return opened().dir; },
    get archive() { return opened().archive; },
    reopen: () => open(opened().dir),
  };
}

/** Stores `bytes` as an arriving file would be, expecting it stored, and returns the instance the index lists. */
export async function storeInstance({ dir, archive }: TempArchive, bytes: Uint8Array): Promise<StoredInstance> {
  const temp = join(dir, 'tmp', 'one.part');
  writeFileSync(temp, bytes);
  const outcome = await archive.storeFromTemp(temp);
  expect(outcome.status).toBe('stored');
  if (outcome.status === 'failed') throw outcome.error;
  return archive.index.findInstance(outcome.header.sopInstanceUid) as StoredInstance;
}
