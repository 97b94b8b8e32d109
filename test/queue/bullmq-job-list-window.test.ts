import { randomUUID } from 'node:crypto';
import { createLogger } from '@mipseg/shared/log';
import { MipsegError } from '@mipseg/shared/errors';
import { BullMqJobQueue, type AnalysisPlan } from '@mipseg/shared/queue';
import { useRedisWithClient } from '../support/redis';
import { until } from '../support/until';

const retry = { attempts: 1, baseDelayMs: 50 };
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
      expect(all).toEqual(['c5', 'f2', 'c4', 'c3']);
      expect((await queue.listJobs({ limit: 2, offset: 2 })).map((j) => j.id)).toEqual(['c4', 'c3']);
      expect((await queue.listJobs({ limit: 2, offset: 4 })).map((j) => j.id)).toEqual([]);
      // A state whose jobs all fit is listed whole.
      expect((await queue.listJobs({ state: 'failed', limit: 100, offset: 0 })).map((j) => j.id)).toEqual(['f2', 'f1']);
    } finally {
      await queue.close();
    }
  });
});
