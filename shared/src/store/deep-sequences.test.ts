import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import { CODE_VALUE, withNestedSequences } from '../../../test/support/nested-sequences';
import { MAX_SEQUENCE_DEPTH } from '../dicom/sequence-depth';
import { createLogger } from '../log';
import { Archive } from './archive';

let dir: string;
let archive: Archive;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mipseg-deep-sequences-'));
  archive = await Archive.open(dir, createLogger('silent'));
});

afterEach(() => {
  archive.close();
  rmSync(dir, { recursive: true, force: true });
});

async function store(bytes: Uint8Array): ReturnType<Archive['storeFromTemp']> {
  const temp = join(dir, 'tmp', 'one.part');
  writeFileSync(temp, bytes);
  return archive.storeFromTemp(temp);
}

// STOW and C-STORE both store through storeFromTemp/storeReceived, which read the header the same way.
test('refuses an instance whose sequences nest deeper than the limit, with 0xC000 and the depth, and stores nothing', async () => {
  const deep = withNestedSequences(syntheticPetInstance({ sopInstanceUid: '2.25.5152.1' }), 100, CODE_VALUE);
  const outcome = await store(deep);
  expect(outcome).toMatchObject({ status: 'failed', sopInstanceUid: '2.25.5152.1' });
  if (outcome.status !== 'failed') return;
  expect(outcome.error).toMatchObject({ code: 'MIPSEG_DICOM_SEQUENCES_TOO_DEEP', failureReason: 0xc000 });
  expect(outcome.error.message).toContain(`100 levels, at most ${MAX_SEQUENCE_DEPTH}`);
  expect(archive.index.findInstance('2.25.5152.1')).toBeUndefined();
});

test('stores an instance whose sequences nest as deep as the limit', async () => {
  const deep = withNestedSequences(syntheticPetInstance({ sopInstanceUid: '2.25.5152.2' }), MAX_SEQUENCE_DEPTH, CODE_VALUE);
  expect((await store(deep)).status).toBe('stored');
});
