import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '@mipseg/shared/log';
import { Archive } from '@mipseg/shared/store';
import { startArchiveUpkeep } from './archive-upkeep';

const YEAR_MS = 365 * 24 * 3600 * 1000;

describe('the archive upkeep of a start', () => {
  let dir: string;
  let archive: Archive;
  let retired: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-upkeep-'));
    archive = await Archive.open(dir, createLogger('silent'));
    // A copy retired a year ago, past a retention of one day.
    retired = join(dir, 'retired', 'instances', '2.25.1', '2.25.2', `2.25.3.dcm.0123456789abcdef.${Date.now() - YEAR_MS}`);
    mkdirSync(dirname(retired), { recursive: true });
    writeFileSync(retired, 'old copy');
  });
  afterEach(() => {
    jest.restoreAllMocks();
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runUpkeep(): Promise<void> {
    const upkeep = startArchiveUpkeep(archive, { retiredRetentionDays: 1, indexUnlistedFiles: false }, createLogger('silent'));
    const deadline = Date.now() + 5_000;
    while (existsSync(retired) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await upkeep.stop();
  }

  test('prunes retired copies past the retention once the look for unfinished replacements is done', async () => {
    await runUpkeep();
    expect(existsSync(retired)).toBe(false);
  });

  test('prunes none when that look failed: a copy it could not look at may be all that shows an unfinished replacement', async () => {
    jest.spyOn(archive, 'repairInterruptedReplacements').mockRejectedValue(Object.assign(new Error('EIO: i/o error, scandir'), { code: 'EIO' }));
    await runUpkeep();
    expect(existsSync(retired)).toBe(true);
  });
});
