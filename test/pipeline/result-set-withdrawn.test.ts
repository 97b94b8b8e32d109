import { readSopInstanceUid } from '@mipseg/shared/dicom';
import type { StoreOutcome } from '@mipseg/shared/store';
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

  test('queue mode: a request cut after the MIP (its SEG never read) takes the MIP out again', async () => {
    const study = syntheticPetStudy({ slices: 2 });
    const [source, mip] = study.instances.map((i) => Buffer.from(i)) as [Buffer, Buffer];
    expect((await postStow(`${server.baseUrl}/studies`, [source])).status).toBe(200);
    // The MIP whole, then the body ends inside the SEG's part: no closing boundary.
    const boundary = 'cut-result';
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), mip,
      Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), mip.subarray(0, 500)]);
    const res = await fetch(`${server.baseUrl}/studies`, { method: 'POST', body, headers: {
      'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'Mipseg-Results': 'true',
      'Mipseg-Beside-Series': study.seriesInstanceUid } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(server.archive.index.countInstances()).toBe(1);
  });

  /** A study's source slice stored, then a MIP of it stored as a result sink stores it: the MIP and that store's outcome. */
  async function resultAdded(): Promise<{ mip: Buffer; added: StoreOutcome }> {
    const study = syntheticPetStudy({ slices: 2 });
    const [source, mip] = study.instances.map((i) => Buffer.from(i)) as [Buffer, Buffer];
    expect((await postStow(`${server.baseUrl}/studies`, [source])).status).toBe(200);
    const temp = server.archive.blobs.createTemp();
    await new Promise<void>((resolve, reject) => temp.stream.end(mip, (err?: Error | null) => (err ? reject(err) : resolve())));
    const added = await server.archive.storeFromTemp(temp.path, { result: true });
    expect(added).toMatchObject({ status: 'stored', added: {} });
    return { mip, added };
  }

  test('a copy another store put in place of the one added is not taken out', async () => {
    const { mip, added } = await resultAdded();
    // Meanwhile a changed copy of it (another attempt's) replaced it.
    const changed = Buffer.from(mip);
    changed.write('X', changed.length - 1, 'latin1');
    expect((await postStow(`${server.baseUrl}/studies`, [changed])).status).toBe(202);
    expect(await server.archive.withdrawResult([added])).toEqual(new Set());
    expect(server.archive.index.findInstance(readSopInstanceUid(mip))).toBeDefined();
  });

  test('a copy another store was since told is stored (a second attempt sending the same bytes) is not taken out', async () => {
    const { mip, added } = await resultAdded();
    // The other attempt's identical MIP: answered as stored ("unchanged"), the sender counting on it.
    expect((await postStow(`${server.baseUrl}/studies`, [mip])).status).toBe(200);
    expect(await server.archive.withdrawResult([added])).toEqual(new Set());
    expect(server.archive.index.findInstance(readSopInstanceUid(mip))).toBeDefined();
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
