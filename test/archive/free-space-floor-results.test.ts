import { ArchiveResultSink, StowResultSink } from '../../services/worker/src/pipeline/result-sink';
import { syntheticPetStudy } from '../pipeline/faults/synthetic-pet-study';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

/**
 * Below MIN_FREE_DISK_BYTES new instances are refused; mipseg's own results (a MIP and a SEG of a study already
 * received) are not: refused, the analysis would run again for every attempt and then fail for good.
 */
describe('MIN_FREE_DISK_BYTES and mipseg\'s own results', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
    // More free space than any volume has: the floor is never met.
    server.archive.keepFree(Number.MAX_SAFE_INTEGER);
  });
  afterAll(() => server.stop());

  test('a client\'s STOW-RS below the floor is refused with 507', async () => {
    const [instance] = syntheticPetStudy({ slices: 1 }).instances;
    expect((await postStow(`${server.baseUrl}/studies`, [Buffer.from(instance as Uint8Array)])).status).toBe(507);
  });

  test('a queue-mode worker\'s results (by STOW-RS to its gateway) and an embedded one\'s are stored below it', async () => {
    const [a, b] = syntheticPetStudy({ slices: 2 }).instances.map((i) => Buffer.from(i));
    await new StowResultSink(server.baseUrl).store([a as Buffer]);
    await new ArchiveResultSink(server.archive).store([b as Buffer]);
    expect(server.archive.index.countInstances()).toBe(2);
  });
});
