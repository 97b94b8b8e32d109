import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { postStow } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

describeWithSharedData(GE)('STOW-RS answers only once the index rows it wrote are on disk', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  const slices = (from: number, to: number) => {
    const dir = sharedData(GE).path;
    return readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(from, to).map((f) => readFileSync(join(dir, f)));
  };

  /**
   * A held flush: `hold` is given a function returning the promise a flush waits on. Posts `files`, checks that the answer
   * waits for exactly one flush, then lets it go and returns the answer's status.
   */
  async function stowHeldByOneFlush(files: Buffer[], hold: (flush: () => Promise<void>) => void): Promise<number> {
    let release = (): void => undefined;
    let flushes = 0;
    hold(() => {
      flushes++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    let answered = false;
    const reply = postStow(`${server.baseUrl}/studies`, files).then((r) => {
      answered = true;
      return r;
    });
    for (let k = 0; k < 100 && flushes === 0; k++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect([flushes, answered]).toEqual([1, false]);
    release();
    return (await reply).status;
  }

  test('holds its answer while the index\'s log is being flushed, and flushes it once per request', async () => {
    const index = server.archive.index;
    const flush = index.syncToDisk.bind(index);
    try {
      expect(await stowHeldByOneFlush(slices(0, 5), (held) => {
        index.syncToDisk = () => held().then(flush);
      })).toBe(200);
    } finally {
      index.syncToDisk = flush;
    }
  });

  test('waits for what store listeners wrote elsewhere to be flushed too (the embedded runner\'s pending study check)', async () => {
    expect(await stowHeldByOneFlush(slices(5, 8), (held) => server.archive.syncAlso(held))).toBe(200);
  });
});
