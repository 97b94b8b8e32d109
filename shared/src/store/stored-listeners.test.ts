import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { until } from '../../../test/support/until';
import { Archive } from './archive';

/**
 * What a process killed mid-store leaves: the listeners (the study's check, recorded in the job store) must have heard of
 * an instance by the time its index row is committed and anything slower begins. Else the sender, told nothing, sends it
 * again, the re-send is answered "unchanged", and nothing ever checks the study it changed.
 */
test('a changed copy is told to the listeners as soon as its row is committed, before the replaced copy\'s clean-up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-listeners-'));
  const archive = await Archive.open(dir, createLogger('silent'));
  try {
    const store = (description: string) => {
      const temp = join(dir, 'tmp', `${description.length}.part`);
      writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: '2.25.97400', imagePositionPatient: [0, 0, 0],
        attributes: { SeriesDescription: description } }));
      return archive.storeFromTemp(temp);
    };
    expect((await store('PET AC')).status).toBe('stored');
    const heard: string[] = [];
    archive.onInstanceStored((header) => heard.push(header.sopInstanceUid));
    // The clean-up of the replaced copy's cached metadata never ends: the process is killed during it.
    const cleanUp = jest.spyOn(archive.blobs, 'removeMatching').mockReturnValue(new Promise(() => undefined));
    void store('PET AC, corrected');
    await until(() => Promise.resolve(cleanUp.mock.calls.length > 0 ? true : undefined), 'the clean-up to begin');
    expect(heard).toEqual(['2.25.97400']);
  } finally {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
