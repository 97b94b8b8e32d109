import { ArchiveResultSink, StowResultSink } from '../../services/worker/src/pipeline/result-sink';
import { syntheticPetStudy } from '../pipeline/faults/synthetic-pet-study';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { fetchStow, postStow } from '../support/stow';

/**
 * Below MIN_FREE_DISK_BYTES new instances are refused; mipseg's own results (a MIP and a SEG of a study already
 * received) are not: refused, the analysis would run again for every attempt and then fail for good.
 */
describe('MIN_FREE_DISK_BYTES and mipseg\'s own results', () => {
  let server: TestArchiveServer;
  // A study received while there was room: its results come later.
  const received = syntheticPetStudy({ slices: 3 }).instances.map((i) => Buffer.from(i));
  beforeAll(async () => {
    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [received[0] as Buffer])).status).toBe(200);
    // More free space than any volume has: the floor is never met.
    server.archive.keepFree(Number.MAX_SAFE_INTEGER);
  });
  afterAll(() => server.stop());

  test('a client\'s STOW-RS below the floor is refused with 507', async () => {
    const [other] = syntheticPetStudy({ slices: 1 }).instances;
    expect((await postStow(`${server.baseUrl}/studies`, [Buffer.from(other as Uint8Array)])).status).toBe(507);
  });

  test('a queue-mode worker\'s results (by STOW-RS to its gateway) and an embedded one\'s are stored below it', async () => {
    await new StowResultSink(server.baseUrl).store([received[1] as Buffer]);
    await new ArchiveResultSink(server.archive).store([received[2] as Buffer]);
    expect(server.archive.index.countInstances()).toBe(3);
  });

  test('a client that says its instances are results, of a study not stored, meets the floor all the same', async () => {
    const [other] = syntheticPetStudy({ slices: 1 }).instances;
    const res = await fetchStow(`${server.baseUrl}/studies`, [Buffer.from(other as Uint8Array)], { headers: { 'Mipseg-Results': 'true' } });
    expect(res.status).toBe(507);
  });
});
