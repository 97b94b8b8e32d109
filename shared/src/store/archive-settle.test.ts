import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

describe('Archive.settle, which a shutdown awaits before closing the index', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-settle-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('waits for a store still reading its file, before it reaches its study\'s gate', async () => {
    const temp = join(dir, 'tmp', 'received.part');
    writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: '2.25.5190001', seriesInstanceUid: '2.25.5190000', imagePositionPatient: [0, 0, 0] }));
    let stored = false;
    const store = archive.storeFromTemp(temp).then((outcome) => {
      stored = true;
      return outcome;
    });
    // Asked at once: the store is still reading the file (stat, read, header), not yet in the study's gate.
    expect(await archive.settle(5000)).toBe(true);
    expect(stored).toBe(true);
    expect((await store).status).toBe('stored');
  });

  test('says false when the work under way outlasts the time given', async () => {
    const temp = join(dir, 'tmp', 'received.part');
    writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: '2.25.5190002', seriesInstanceUid: '2.25.5190000', imagePositionPatient: [0, 0, 0] }));
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const publish = archive.blobs.publish.bind(archive.blobs);
    archive.blobs.publish = async (...args) => {
      await held;
      return publish(...args);
    };
    const store = archive.storeFromTemp(temp);
    expect(await archive.settle(50)).toBe(false);
    release();
    expect((await store).status).toBe('stored');
    expect(await archive.settle(50)).toBe(true);
  });

  /** A promise and the function that settles it. */
  function held(): { promise: Promise<void>; release: () => void } {
    let release: () => void = () => undefined;
    const promise = new Promise<void>((r) => (release = r));
    return { promise, release };
  }

  test('waits for received instances that begin while it waits (a cut connection\'s handler finishing a part)', async () => {
    const first = held();
    const later = held();
    void archive.track(first.promise);
    let settled = false;
    const settling = archive.settle(5000).then((ok) => {
      settled = true;
      return ok;
    });
    void archive.track(later.promise); // began after settle() was called
    first.release();
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    later.release();
    expect(await settling).toBe(true);
  });

  test('does not wait for results that begin while it waits (analyses still running keep adding them)', async () => {
    const result = held();
    const settling = archive.settle(5000);
    void archive.track(result.promise, 'snapshot');
    expect(await settling).toBe(true);
    result.release();
  });
});
