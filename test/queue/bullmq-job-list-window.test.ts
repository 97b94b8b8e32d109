import { randomUUID } from 'node:crypto';
import { createLogger } from '@mipseg/shared/log';
import { MipsegError } from '@mipseg/shared/errors';
import { BullMqJobQueue, type AnalysisPlan, type ResultUids } from '@mipseg/shared/queue';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const retry = { attempts: 1, baseDelayMs: 50 };
const RESULT: ResultUids = {
  studyInstanceUid: '1.2.3',
  mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 1, tumourAreaMm2: 40, modelName: 'm', modelVersion: '1',
};
const plan = (study: string): AnalysisPlan =>
  ({ studyInstanceUid: study, seriesInstanceUid: `${study}.1`, sopInstanceUids: [`${study}.1.1`], contentHash: 'h', reason: 'study-complete' });

/**
 * GET /api/jobs without study= pages through the newest jobs of each BullMQ state (a bound per state; 3 here). A state
 * with more jobs than that is read only so far back: the list stops there, rather than go on with the other states'
 * older jobs and leave out that state's jobs in between.
 */
describe('queue mode: the job list of all studies, past what is read of one state', () => {
  const fixture = useRedisWithClient();

  test('ends at the oldest job read of a state with more, with no job missing between the newest and its end', async () => {
    const queue = new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [], lockDurationMs: 5000, recentJobsPerState: 3 }, createLogger('silent'));
    try {
      queue.startProcessing({ checkStudy: () => Promise.resolve(),
        analyze: () => Promise.reject(new MipsegError('MIPSEG_SUV_UNAVAILABLE', 'no PatientWeight')) },
      { concurrency: 1, studyChecks: false, analyses: true });
      // Oldest first: five not-applicable records (done, for BullMQ) and two failed analyses among them.
      const order = ['c1', 'f1', 'c2', 'c3', 'c4', 'f2', 'c5'];
      for (const id of order) {
        if (id.startsWith('c')) await queue.recordNotApplicable(id, `1.2.${id}`, 'no PET series');
        else await queue.enqueueAnalysis(id, plan(`1.2.${id}`));
        await until(async () => ((await queue.getJob(id))?.state.match(/failed|not-applicable/) ? true : undefined), id);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const all = (await queue.listJobs({ limit: 100, offset: 0 })).map((j) => j.id);
      // Finished jobs are read back by when they finished: c3, read, was made before it finished, and a job made in
      // between could be one not read; so the list ends after c4.
      expect(all).toEqual(['c5', 'f2', 'c4']);
      expect((await queue.listJobs({ limit: 2, offset: 2 })).map((j) => j.id)).toEqual(['c4']);
      expect((await queue.listJobs({ limit: 2, offset: 3 })).map((j) => j.id)).toEqual([]);
      // A state whose jobs all fit is listed whole.
      expect((await queue.listJobs({ state: 'failed', limit: 100, offset: 0 })).map((j) => j.id)).toEqual(['f2', 'f1']);
      // The worklist's filters still find a study whose newest job is older than where the list ends.
      expect((await queue.latestJobsByStudy(['1.2.f1'])).get('1.2.f1')).toMatchObject({ id: 'f1', state: 'failed' });
    } finally {
      await queue.close();
    }
  });

  test('ends where a state with more was read back to by finishing time, though a job read was made long before', async () => {
    let finishLong: () => void = () => undefined;
    const queue = new BullMqJobQueue({ redisUrl: fixture.redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: [], lockDurationMs: 5000, recentJobsPerState: 3 }, createLogger('silent'));
    try {
      queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (id, request) => (id === 'long'
        ? new Promise((resolve) => { finishLong = () => resolve({ ...RESULT, studyInstanceUid: request.studyInstanceUid }); })
        : Promise.reject(new MipsegError('MIPSEG_SUV_UNAVAILABLE', 'no PatientWeight'))) },
      { concurrency: 2, studyChecks: false, analyses: true });
      // Made oldest first: an analysis that finishes last, then c1, a failed one, c2 and c3.
      await queue.enqueueAnalysis('long', plan('1.2.long'));
      await until(async () => ((await queue.getJob('long'))?.state === 'running' ? true : undefined), 'long');
      for (const id of ['c1', 'f', 'c2', 'c3']) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (id.startsWith('c')) await queue.recordNotApplicable(id, `1.2.${id}`, 'no PET series');
        else await queue.enqueueAnalysis(id, plan(`1.2.${id}`));
        await until(async () => ((await queue.getJob(id))?.state.match(/failed|not-applicable/) ? true : undefined), id);
      }
      finishLong();
      await until(async () => ((await queue.getJob('long'))?.state === 'done' ? true : undefined), 'long done');
      // Finished last, "long" is among the three finished jobs read (with c3 and c2); c1 is not. Listed by when they
      // were made, the list must not go on past c2 to f and "long" with c1 left out between them.
      const listed = (await queue.listJobs({ limit: 100, offset: 0 })).map((j) => j.id);
      expect(listed).not.toContain('f');
      expect(listed.slice(0, 1)).toEqual(['c3']);
    } finally {
      finishLong();
      await queue.close();
    }
  });
});
