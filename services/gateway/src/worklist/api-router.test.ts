import type { JobQueue } from '@mipseg/shared/queue';
import { followStudyView } from './api-router';
import { FollowedExports } from './followed-exports';
import type { JobSummary, StudyDetail } from './worklist-types';

const retrying = [{ destination: 'stow:http://pacs.test', state: 'retrying', attempts: 1, updatedAt: 0 }];

describe('what a study view follows on the event stream', () => {
  test('the shown result is followed last, so that a long history of exports under way never lets go of it', () => {
    // As StudyEvents follows them: the most jobs, the one asked for longest ago let go past them.
    const followed = new FollowedExports({} as JobQueue, { maxJobs: 100, followForMs: 600_000, readTimeoutMs: 1000 });
    const shown: string[] = [];
    const events = { followExports: (job: { jobId: string }) => void followed.follow(job as never), showExports: () => void shown.push('x') };
    const jobs = Array.from({ length: 100 }, (_, i) => ({ id: `old-${i}`, exports: retrying }) as unknown as JobSummary);
    const detail = { result: { jobId: 'newest', exports: retrying }, jobs } as unknown as StudyDetail;
    followStudyView(events, detail);
    expect(followed.has('newest')).toBe(true);
    expect(followed.size).toBe(100);
    expect(shown).toEqual([]);
  });
});
