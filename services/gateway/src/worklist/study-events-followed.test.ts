import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { createLogger } from '@mipseg/shared/log';
import type { JobQueue, JobRecord } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { StudyEvents } from './study-events';

const POLL_MS = 1000;

const job = (id: string, exportState: string): JobRecord => ({
  id, studyInstanceUid: `1.2.${id.replace(/\D/g, '') || '0'}`, seriesInstanceUid: null, state: 'completed', stage: null, progress: 100,
  attempts: 1, createdAt: 0, startedAt: 0, finishedAt: 0, timingsMs: {}, failureCode: null, failureReason: null, result: null,
  exports: [{ destination: 'stow:http://pacs.test', state: exportState, attempts: 1, updatedAt: 0 }], request: null,
} as unknown as JobRecord);

/** A job as a page was shown it (its newest job on the list, or the result of a study view). */
const listedJob = (id: string, exportState: string) => ({ jobId: id, exports: job(id, exportState).exports });

/** The queue's reads the poller makes, by id: what a test sets is what getJob answers (a function may throw or hang). */
class FakeQueue {
  readonly jobs = new Map<string, JobRecord | (() => Promise<JobRecord>)>();
  readonly reads: string[] = [];
  pendingStudies = (): Promise<string[]> => Promise.resolve([]);
  listJobs = (): Promise<JobRecord[]> => Promise.resolve([]);
  getJob = (id: string): Promise<JobRecord | undefined> => {
    this.reads.push(id);
    const found = this.jobs.get(id);
    return typeof found === 'function' ? found() : Promise.resolve(found);
  };
}

/** Just what StudyEvents asks of a response; `written` holds each write. */
function fakeStream(): { res: Response; written: string[]; close: () => void; ended: () => boolean } {
  const emitter = new EventEmitter();
  const written: string[] = [];
  let ended = false;
  const res = {
    closed: false, writableEnded: false, writableLength: 0,
    status: () => res, set: () => res, flushHeaders: () => undefined,
    write: (text: string) => { written.push(text); return true; },
    on: (event: string, fn: () => void) => { emitter.on(event, fn); return res; },
    end: () => { ended = true; }, destroy: () => { ended = true; },
  };
  return { res: res as unknown as Response, written, close: () => emitter.emit('close'), ended: () => ended };
}

const noArchive = { onInstanceStored: () => undefined, onDeletedFrom: () => undefined } as unknown as Archive;

// One StudyEvents over a fake queue, on fake timers, for each test of both groups below.
describe('StudyEvents following jobs', () => {
  let queue: FakeQueue;
  let events: StudyEvents;
  const logged: Array<{ msg: string }> = [];
  const log = createLogger('info', { write: (line: string) => logged.push(JSON.parse(line) as { msg: string }) });
  const poll = (): Promise<void> => jest.advanceTimersByTimeAsync(POLL_MS);
  const readsIn = async (fn: () => Promise<void>): Promise<string[]> => {
    queue.reads.length = 0;
    await fn();
    return [...queue.reads];
  };

  beforeEach(() => {
    jest.useFakeTimers();
    queue = new FakeQueue();
    events = new StudyEvents(queue as unknown as JobQueue, noArchive, log, POLL_MS, 15_000);
  });
  afterEach(() => {
    events.close();
    jest.useRealTimers();
  });

  describe('the jobs an event stream follows for their exports', () => {
    test('lets go of a job the queue no longer has', async () => {
      events.subscribe(fakeStream().res);
      events.followExports(listedJob('gone', 'retrying'));
      await poll();
      expect(await readsIn(poll)).not.toContain('gone');
    });

    test('past the most followed, lets go of the job asked for longest ago and follows the new one', async () => {
      events.subscribe(fakeStream().res);
      for (let i = 0; i < 101; i++) {
        queue.jobs.set(`job-${i}`, job(`job-${i}`, 'retrying'));
        events.followExports(listedJob(`job-${i}`, 'retrying'));
      }
      const reads = await readsIn(poll);
      expect(reads).toContain('job-100');
      expect(reads).not.toContain('job-0');
      expect(reads).toHaveLength(100);
      expect(logged.some((line) => /longest ago/.test(line.msg))).toBe(true);
    });

    test('lets go of a job no study view has asked for in ten minutes', async () => {
      events.subscribe(fakeStream().res);
      queue.jobs.set('job-1', job('job-1', 'retrying'));
      events.followExports(listedJob('job-1', 'retrying'));
      expect(await readsIn(poll)).toContain('job-1');
      await jest.advanceTimersByTimeAsync(10 * 60_000);
      expect(await readsIn(poll)).not.toContain('job-1');
    });

    test('sends the change of one followed job while the read of another fails', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      queue.jobs.set('job-1', job('job-1', 'retrying'));
      queue.jobs.set('job-2', () => Promise.reject(new Error('Redis: one key unreadable')));
      events.followExports(listedJob('job-1', 'retrying'));
      events.followExports(listedJob('job-2', 'retrying'));
      await poll();
      queue.jobs.set('job-1', job('job-1', 'sent'));
      stream.written.length = 0;
      await poll();
      expect(stream.written.join('')).toContain('"studies":["1.2.1"]');
    });

    test('sends the change of one followed job while the read of another is slow', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      queue.jobs.set('job-1', job('job-1', 'retrying'));
      queue.jobs.set('job-2', job('job-2', 'retrying'));
      events.followExports(listedJob('job-1', 'retrying'));
      events.followExports(listedJob('job-2', 'retrying'));
      await poll();
      queue.jobs.set('job-1', job('job-1', 'sent'));
      queue.jobs.set('job-2', () => new Promise((resolve) => { setTimeout(() => resolve(job('job-2', 'retrying')), 6000); }));
      stream.written.length = 0;
      await poll();
      await jest.advanceTimersByTimeAsync(3000);
      expect(stream.written.join('')).toContain('"studies":["1.2.1"]');
    });

    test('sends a study view\'s export that was sent between the view\'s read and the next poll', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      await poll();
      events.followExports(listedJob('job-1', 'retrying'));
      queue.jobs.set('job-1', job('job-1', 'sent'));
      stream.written.length = 0;
      await poll();
      expect(stream.written.join('')).toContain('"studies":["1.2.1"]');
    });

    test('follows no job while no stream is open, and lets go of them when the last stream closes', async () => {
      queue.jobs.set('job-1', job('job-1', 'retrying'));
      events.followExports(listedJob('job-1', 'retrying'));
      const stream = fakeStream();
      events.subscribe(stream.res);
      expect(await readsIn(poll)).not.toContain('job-1');
      events.followExports(listedJob('job-1', 'retrying'));
      stream.close();
      events.subscribe(fakeStream().res);
      expect(await readsIn(poll)).not.toContain('job-1');
    });
  });

  describe('the jobs an event stream follows because a worklist page lists them', () => {
    test('sends a listed job\'s failed export going to pending and then to sent, retried by someone else', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      queue.jobs.set('job-1', job('job-1', 'failed'));
      events.showExports(listedJob('job-1', 'failed'));
      await poll();
      await poll();
      for (const state of ['pending', 'sent']) {
        queue.jobs.set('job-1', job('job-1', state));
        stream.written.length = 0;
        await poll();
        expect(stream.written.join('')).toContain('"studies":["1.2.1"]');
      }
    });

    test('keeps reading a listed job while its export stays failed, and lets go of it once sent', async () => {
      events.subscribe(fakeStream().res);
      queue.jobs.set('job-1', job('job-1', 'failed'));
      events.showExports(listedJob('job-1', 'failed'));
      for (let i = 0; i < 5; i++) expect(await readsIn(poll)).toContain('job-1');
      queue.jobs.set('job-1', job('job-1', 'sent'));
      await poll();
      expect(await readsIn(poll)).not.toContain('job-1');
    });

    test('follows no listed job whose exports are all sent, or that has none', async () => {
      events.subscribe(fakeStream().res);
      queue.jobs.set('job-1', job('job-1', 'sent'));
      events.showExports(listedJob('job-1', 'sent'));
      events.showExports({ jobId: 'job-2', exports: [] });
      events.showExports({ jobId: null, exports: [] });
      expect(await readsIn(poll)).toEqual([]);
    });

    test('lets go of a listed job not listed again for 35 minutes, and keeps one listed again', async () => {
      events.subscribe(fakeStream().res);
      queue.jobs.set('job-1', job('job-1', 'failed'));
      queue.jobs.set('job-2', job('job-2', 'failed'));
      events.showExports(listedJob('job-1', 'failed'));
      events.showExports(listedJob('job-2', 'failed'));
      await jest.advanceTimersByTimeAsync(20 * 60_000);
      // The page's stream is ended at 30 minutes; it has opened another by then, and read its list again.
      events.subscribe(fakeStream().res);
      await jest.advanceTimersByTimeAsync(10 * 60_000);
      events.showExports(listedJob('job-2', 'failed'));
      await jest.advanceTimersByTimeAsync(5 * 60_000);
      const reads = await readsIn(poll);
      expect(reads).not.toContain('job-1');
      expect(reads).toContain('job-2');
    });

    test('past the most listed jobs, lets go of those listed longest ago for the new ones, saying so once', async () => {
      events.subscribe(fakeStream().res);
      for (let i = 0; i < 102; i++) {
        queue.jobs.set(`job-${i}`, job(`job-${i}`, 'failed'));
        events.showExports(listedJob(`job-${i}`, 'failed'));
      }
      const reads = await readsIn(poll);
      expect(reads).toEqual(expect.arrayContaining(['job-2', 'job-100', 'job-101']));
      expect(reads).not.toContain('job-0');
      expect(reads).not.toContain('job-1');
      expect(reads).toHaveLength(100);
      expect(logged.filter((line) => /listed longest ago/.test(line.msg))).toHaveLength(1);
    });

    test('a job listed again is kept over one listed before it, when a newer one needs the room', async () => {
      events.subscribe(fakeStream().res);
      for (let i = 0; i < 100; i++) {
        queue.jobs.set(`job-${i}`, job(`job-${i}`, 'failed'));
        events.showExports(listedJob(`job-${i}`, 'failed'));
      }
      events.showExports(listedJob('job-0', 'failed'));
      queue.jobs.set('job-100', job('job-100', 'failed'));
      events.showExports(listedJob('job-100', 'failed'));
      const reads = await readsIn(poll);
      expect(reads).toContain('job-0');
      expect(reads).not.toContain('job-1');
    });

    test('sends the retry of a job listed after the most listed were taken (a later page, another workstation)', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      for (let i = 0; i < 100; i++) {
        queue.jobs.set(`job-${i}`, job(`job-${i}`, 'failed'));
        events.showExports(listedJob(`job-${i}`, 'failed'));
      }
      queue.jobs.set('job-500', job('job-500', 'failed'));
      events.showExports(listedJob('job-500', 'failed'));
      await poll();
      queue.jobs.set('job-500', job('job-500', 'pending'));
      stream.written.length = 0;
      await poll();
      expect(stream.written.join('')).toContain('"studies":["1.2.500"]');
    });

    test('sends nothing for a listed job that did not change: following it is no change', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      queue.jobs.set('job-1', job('job-1', 'failed'));
      await poll();
      stream.written.length = 0;
      events.showExports(listedJob('job-1', 'failed'));
      await poll();
      await poll();
      expect(stream.written.join('')).not.toContain('event: studies');
    });

    test('sends a listed job\'s export settling once, not again when the job is let go', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      queue.jobs.set('job-1', job('job-1', 'failed'));
      events.showExports(listedJob('job-1', 'failed'));
      await poll();
      stream.written.length = 0;
      queue.jobs.set('job-1', job('job-1', 'superseded'));
      await poll();
      await poll();
      expect(stream.written.join('').match(/event: studies/g)).toHaveLength(1);
    });

    test('sends a listed job whose export changed between the list read and the next poll', async () => {
      const stream = fakeStream();
      events.subscribe(stream.res);
      await poll();
      events.showExports(listedJob('job-1', 'failed'));
      queue.jobs.set('job-1', job('job-1', 'pending'));
      stream.written.length = 0;
      await poll();
      expect(stream.written.join('')).toContain('"studies":["1.2.1"]');
    });

    test('follows no listed job while no stream is open', async () => {
      queue.jobs.set('job-1', job('job-1', 'failed'));
      events.showExports(listedJob('job-1', 'failed'));
      events.subscribe(fakeStream().res);
      expect(await readsIn(poll)).not.toContain('job-1');
    });
  });

  describe('an event stream\'s age', () => {
    test('a stream is ended after 30 minutes however much it is written to, and the poller goes on for a newer one', async () => {
      jest.useFakeTimers();
      const queue = new FakeQueue();
      const events = new StudyEvents(queue as unknown as JobQueue, noArchive, createLogger('silent'), POLL_MS, 15_000);
      try {
        const old = fakeStream();
        events.subscribe(old.res);
        await jest.advanceTimersByTimeAsync(20 * 60_000);
        const newer = fakeStream();
        events.subscribe(newer.res);
        await jest.advanceTimersByTimeAsync(10 * 60_000 + 15_000);
        expect(old.ended()).toBe(true);
        expect(newer.ended()).toBe(false);
        newer.written.length = 0;
        await jest.advanceTimersByTimeAsync(15_000);
        expect(newer.written.join('')).toContain('event: ping');
      } finally {
        events.close();
        jest.useRealTimers();
      }
    });
  });
});
