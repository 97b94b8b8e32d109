import pino from 'pino';
import type { AnalysisPlan, EmbeddedJobQueue, ExportStatus, ResultUids } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { exportResult } from '../../services/worker/src/pipeline/export-result';
import { ArchiveResultSink } from '../../services/worker/src/pipeline/result-sink';
import { ArchiveStudySource } from '../../services/worker/src/pipeline/study-source';
import { openArchiveAndQueue, type ArchiveAndQueue } from '../support/archive-and-queue';
import { until } from '../support/until';
import { syntheticPetStudy } from './faults/synthetic-pet-study';

const log = pino({ level: 'silent' });
/** Nothing listens there: an export that got as far as sending would be retried, not failed at once. */
const DESTINATION = 'stow:http://127.0.0.1:9/dicom-web';
const WAIT = { timeoutMs: 10_000, pollMs: 20 };

describe('exporting a result whose series was deleted', () => {
  let stores: ArchiveAndQueue;
  let archive: Archive;
  let queue: EmbeddedJobQueue;
  beforeEach(async () => {
    stores = await openArchiveAndQueue('mipseg-export-deleted-', log, { analysisRetry: { attempts: 1, baseDelayMs: 100 },
      exportRetry: { attempts: 3, baseDelayMs: 100 }, exportDestinations: [DESTINATION], pollMs: 20 });
    ({ archive, queue } = stores);
  });
  afterEach(() => stores.close());

  /** A stored result: one instance each as its MIP and its SEG series, in one study. */
  async function storedResult(): Promise<ResultUids> {
    const mip = syntheticPetStudy({ slices: 1 });
    const seg = syntheticPetStudy({ slices: 1, attributes: { StudyInstanceUID: mip.studyInstanceUid } });
    await new ArchiveResultSink(archive).store([...mip.instances, ...seg.instances]);
    const sop = (series: string) => archive.index.listInstances({ studyUid: mip.studyInstanceUid, seriesUid: series })[0]?.sopInstanceUid ?? '';
    return { studyInstanceUid: mip.studyInstanceUid, mipSeriesInstanceUid: mip.seriesInstanceUid, mipSopInstanceUid: sop(mip.seriesInstanceUid),
      segSeriesInstanceUid: seg.seriesInstanceUid, segSopInstanceUid: sop(seg.seriesInstanceUid), lesionCount: 0, tumourAreaMm2: 0,
      modelName: 'test', modelVersion: '0' };
  }

  test('fails at the first attempt, saying the result series was deleted, instead of retrying', async () => {
    const result = await storedResult();
    await archive.deleteSeries(result.studyInstanceUid, result.segSeriesInstanceUid);
    const source = new ArchiveStudySource(archive);
    queue.startProcessing({
      checkStudy: () => Promise.resolve(),
      analyze: () => Promise.resolve(result),
      exportResult: (_jobId, uids, destination, attempt) => exportResult(uids, destination, attempt, { source, callingAeTitle: 'MIPSEG', log }),
    }, { concurrency: 1, studyChecks: false, analyses: true });
    const plan: AnalysisPlan = { studyInstanceUid: result.studyInstanceUid, seriesInstanceUid: '2.25.1', sopInstanceUids: ['2.25.2'],
      contentHash: 'abc', reason: 'study-complete', resultUidSeed: 'seed' };
    await queue.enqueueAnalysis('job-a', plan);

    const exported = await until(async () => {
      const status = (await queue.getJob('job-a'))?.exports[0];
      return status?.state === 'failed' ? status : undefined;
    }, 'the export to fail', WAIT);
    expect(exported).toMatchObject<Partial<ExportStatus>>({ destination: DESTINATION, state: 'failed', attempts: 1 });
    expect(exported.detail).toContain(`SEG ${result.segSeriesInstanceUid}) was deleted`);
  });
});
