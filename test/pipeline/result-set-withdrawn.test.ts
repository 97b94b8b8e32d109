import { readSopInstanceUid } from '@mipseg/shared/dicom';
import { ArchiveResultSink, StowResultSink, type ResultSink } from '../../services/worker/src/pipeline/result-sink';
import { syntheticPetStudy } from './faults/synthetic-pet-study';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

/**
 * A result is a MIP and its SEG. Where the SEG cannot be stored (the disk full between the two), the MIP stored before
 * it is taken out again: kept, it would stay in the study for good, a series no job lists, exports or replaces.
 */
describe('a result whose second instance cannot be stored', () => {
  let server: TestArchiveServer;
  beforeEach(async () => { server = await startTestArchive(); });
  afterEach(async () => {
    jest.restoreAllMocks();
    await server.stop();
  });

  /** Makes the archive's publish of `instance` fail as a full disk does. */
  function failPublishOf(instance: Buffer): void {
    const publish = server.archive.blobs.publish.bind(server.archive.blobs);
    const sop = readSopInstanceUid(instance);
    jest.spyOn(server.archive.blobs, 'publish').mockImplementation(async (tempPath, key, options) => {
      if (key.includes(sop)) throw Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' });
      return publish(tempPath, key, options);
    });
  }

  test.each([
    ['embedded (into the archive)', (s: TestArchiveServer): ResultSink => new ArchiveResultSink(s.archive)],
    ['queue mode (by STOW-RS to the gateway)', (s: TestArchiveServer): ResultSink => new StowResultSink(s.baseUrl)],
  ])('%s: the store fails as retryable, the MIP stored before it is withdrawn, and a retry stores both', async (_mode, sinkOf) => {
    const study = syntheticPetStudy({ slices: 3 });
    const [source, mip, seg] = study.instances.map((i) => Buffer.from(i)) as [Buffer, Buffer, Buffer];
    expect((await postStow(`${server.baseUrl}/studies`, [source])).status).toBe(200);
    const sink = sinkOf(server);

    failPublishOf(seg);
    const failure = await sink.store([mip, seg], study.seriesInstanceUid).then(() => undefined, (err: unknown) => err);
    expect(failure).toMatchObject({ code: 'MIPSEG_STORAGE_FULL' });
    expect(server.archive.index.countInstances()).toBe(1);
    expect(server.archive.index.findInstance(readSopInstanceUid(mip))).toBeUndefined();

    jest.restoreAllMocks();
    await sink.store([mip, seg], study.seriesInstanceUid);
    expect(server.archive.index.countInstances()).toBe(3);
  });

  test('an instance stored before (an earlier attempt\'s whole result, or any a client names) is not taken out', async () => {
    const study = syntheticPetStudy({ slices: 3 });
    const [source, mip, seg] = study.instances.map((i) => Buffer.from(i)) as [Buffer, Buffer, Buffer];
    expect((await postStow(`${server.baseUrl}/studies`, [source, mip])).status).toBe(200);
    failPublishOf(seg);
    // The source slice again (unchanged), then one that fails: the source stays.
    await expect(new StowResultSink(server.baseUrl).store([source, seg], study.seriesInstanceUid)).rejects.toMatchObject({ code: 'MIPSEG_STORAGE_FULL' });
    await expect(new ArchiveResultSink(server.archive).store([mip, seg], study.seriesInstanceUid)).rejects.toMatchObject({ code: 'MIPSEG_STORAGE_FULL' });
    expect(server.archive.index.countInstances()).toBe(2);
  });
});
