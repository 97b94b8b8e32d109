import pino from 'pino';
import { SopClass } from '@mipseg/shared/dicom';
import type { EmbeddedJobQueue } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { planStudy } from '../../services/worker/src/pipeline/plan-study';
import { ArchiveResultSink } from '../../services/worker/src/pipeline/result-sink';
import { openArchiveAndQueue, type ArchiveAndQueue } from '../support/archive-and-queue';
import { until } from '../support/until';
import { syntheticPetStudy } from './faults/synthetic-pet-study';

const log = pino({ level: 'silent' });
const retry = { attempts: 1, baseDelayMs: 100 };
/** Well under STUDY_CHECK_RETRY_MS: a check that failed and waits to be retried is still pending when this runs out. */
const WAIT = { timeoutMs: 5_000, pollMs: 50 };

describe('a study check where a series file is missing', () => {
  let stores: ArchiveAndQueue;
  let archive: Archive;
  let queue: EmbeddedJobQueue;
  beforeEach(async () => {
    stores = await openArchiveAndQueue('mipseg-unreadable-', log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [], pollMs: 50 });
    ({ archive, queue } = stores);
    // Study checks only: the PET job stays queued where the test can see it.
    queue.startProcessing({
      checkStudy: async (uid) => void (await planStudy(uid, { archive, queue, log, minPetSlices: 10, minPetCoverageMm: 0 })),
      analyze: () => Promise.reject(new Error('not in this test')),
    }, { concurrency: 1, studyChecks: true, analyses: false });
  });
  afterEach(() => stores.close());

  /** A PET series and a CT series of one study; returns the study and the CT series. */
  async function storePetAndCt(): Promise<{ study: string; ctSeries: string }> {
    const pet = syntheticPetStudy({ slices: 12 });
    const ct = syntheticPetStudy({
      slices: 3, sopClassUid: SopClass.CtImageStorage,
      attributes: { StudyInstanceUID: pet.studyInstanceUid, Modality: 'CT', ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
        SeriesType: undefined, CorrectedImage: undefined, RadiopharmaceuticalInformationSequence: undefined },
    });
    await new ArchiveResultSink(archive).store([...pet.instances, ...ct.instances]);
    return { study: pet.studyInstanceUid, ctSeries: ct.seriesInstanceUid };
  }

  test("queues the PET series and leaves the study no longer pending when the CT series' first file is gone", async () => {
    const { study, ctSeries } = await storePetAndCt();
    const [first] = archive.index.listInstances({ studyUid: study, seriesUid: ctSeries });
    await archive.blobs.remove(first?.storageKey ?? '');

    await queue.scheduleStudyCheck(study, 0);
    const jobs = await until(async () => {
      const listed = await queue.listJobs({ studyInstanceUid: study, limit: 10, offset: 0 });
      return listed.length > 0 ? listed : undefined;
    }, 'the PET job to be queued', WAIT);
    expect(jobs.map((j) => j.state)).toEqual(['queued']);
    expect(jobs[0]?.request?.seriesInstanceUid).not.toBe(ctSeries);
    await until(async () => ((await queue.pendingStudies()).includes(study) ? undefined : true), 'the study to be no longer pending', WAIT);
  });

  test('a file the process may not open (EACCES, as after a restore owned by root) fails the check, to be retried, and records nothing', async () => {
    const { study, ctSeries } = await storePetAndCt();
    const [first] = archive.index.listInstances({ studyUid: study, seriesUid: ctSeries });
    const read = archive.blobs.read.bind(archive.blobs);
    // Tests run as root, which chmod does not stop: the store answers as a file system would.
    jest.spyOn(archive.blobs, 'read').mockImplementation((key: string) => (key === first?.storageKey
      ? Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${key}'`), { code: 'EACCES' }))
      : read(key)));

    await expect(planStudy(study, { archive, queue, log, minPetSlices: 10, minPetCoverageMm: 0 })).rejects.toMatchObject({ code: 'EACCES' });
    expect(await queue.listJobs({ studyInstanceUid: study, limit: 10, offset: 0 })).toEqual([]);
  });

  test('says which series and file could not be read when no other series is eligible', async () => {
    const { study, ctSeries } = await storePetAndCt();
    for (const instance of archive.index.listInstances({ studyUid: study })) await archive.blobs.remove(instance.storageKey);

    const outcome = await planStudy(study, { archive, queue, log, minPetSlices: 10, minPetCoverageMm: 0 });
    expect(outcome.kind).toBe('not-applicable');
    expect(outcome.reason).toContain(`${ctSeries}: its first instance's file`);
    expect(outcome.reason).toContain('cannot be read (ENOENT)');
  });
});
