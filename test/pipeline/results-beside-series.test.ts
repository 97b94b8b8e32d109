import { StowResultSink } from '../../services/worker/src/pipeline/result-sink';
import { syntheticPetStudy } from './faults/synthetic-pet-study';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

/** A queue-mode worker's results, sent by STOW-RS to its gateway, naming the series they were derived from. */
describe('results stored through the gateway beside the series they were derived from', () => {
  let server: TestArchiveServer;
  beforeAll(async () => { server = await startTestArchive(); });
  afterAll(() => server.stop());

  test('are stored while the series is, and refused once it was deleted, so that the study stays deleted', async () => {
    const study = syntheticPetStudy({ slices: 3 });
    const [source, mip, seg] = study.instances.map((i) => Buffer.from(i));
    expect((await postStow(`${server.baseUrl}/studies`, [source as Buffer])).status).toBe(200);
    const sink = new StowResultSink(server.baseUrl);
    await expect(sink.store([mip as Buffer], '2.25.404')).rejects.toThrow(/HTTP 400/); // a series the study does not hold
    await sink.store([mip as Buffer], study.seriesInstanceUid);
    expect(await server.archive.deleteStudy(study.studyInstanceUid)).toBe(2);
    await expect(sink.store([seg as Buffer], study.seriesInstanceUid)).rejects.toThrow(/HTTP 400/);
    expect(server.archive.index.findRepresentativeInstance({ studyUid: study.studyInstanceUid })).toBeUndefined();
  });
});
