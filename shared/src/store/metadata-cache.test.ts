import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

test('metadata cached by the release before (format 5) is computed again: its JSON changed (sequences sent as UN, names)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-metadata-cache-'));
  const archive = await Archive.open(dir, createLogger('silent'));
  try {
    const temp = join(dir, 'tmp', 'one.part');
    writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: '2.25.97300', imagePositionPatient: [0, 0, 0] }));
    expect((await archive.storeFromTemp(temp)).status).toBe('stored');
    const [instance] = archive.index.listInstances({ studyUid: '2.25.700' });
    const stored = instance as NonNullable<typeof instance>;
    writeFileSync(join(dir, stored.storageKey.replace(/\.dcm$/, `.${stored.sha256.slice(0, 16)}.m5.json`)), '{"stale":{"vr":"xs","Value":[64536]}}');
    const json = JSON.parse(await archive.readMetadata(stored)) as Record<string, unknown>;
    expect(json['stale']).toBeUndefined();
    expect(json['00080018']).toEqual({ vr: 'UI', Value: ['2.25.97300'] });
  } finally {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
