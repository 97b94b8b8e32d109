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

  test('holds its answer while the index\'s log is being flushed, and flushes it once per request', async () => {
    const dir = sharedData(GE).path;
    const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, 5).map((f) => readFileSync(join(dir, f)));
    const index = server.archive.index;
    const flush = index.syncToDisk.bind(index);
    let release = (): void => undefined;
    let flushes = 0;
    index.syncToDisk = () => {
      flushes++;
      return new Promise<void>((resolve) => {
        release = () => void flush().then(resolve);
      });
    };
    let answered = false;
    const reply = postStow(`${server.baseUrl}/studies`, files).then((r) => {
      answered = true;
      return r;
    });
    for (let k = 0; k < 100 && flushes === 0; k++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect([flushes, answered]).toEqual([1, false]);
    release();
    expect((await reply).status).toBe(200);
    index.syncToDisk = flush;
  });

  test('waits for what store listeners wrote elsewhere to be flushed too (the embedded runner\'s pending study check)', async () => {
    const dir = sharedData(GE).path;
    const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(5, 8).map((f) => readFileSync(join(dir, f)));
    let release = (): void => undefined;
    let flushes = 0;
    server.archive.syncAlso(() => {
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
    expect((await reply).status).toBe(200);
  });
});
