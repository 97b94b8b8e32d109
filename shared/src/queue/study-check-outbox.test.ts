import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { until } from '../../../test/support/until';
import { StudyCheckOutbox } from './study-check-outbox';

const log = pino({ level: 'silent' });
const QUIET_MS = 60_000;
const WAIT = { timeoutMs: 10_000, pollMs: 10 };

/** A queue that records each hand-over: the study and the delay asked for. */
function recordingQueue(answer: () => Promise<void> = () => Promise.resolve()) {
  const calls: Array<{ study: string; delayMs: number }> = [];
  return { calls, scheduleStudyCheck: (study: string, delayMs: number) => {
    calls.push({ study, delayMs });
    return answer();
  } };
}

describe('the study-check outbox of queue mode', () => {
  let dir: string;
  let path: string;
  const open: StudyCheckOutbox[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-outbox-'));
    path = join(dir, 'outbox.sqlite');
  });
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a study recorded while Redis is away is handed over by the next process, with what is left of its quiet period', async () => {
    const unreachable = recordingQueue(() => new Promise<void>(() => undefined)); // ioredis holds the command
    const before = new StudyCheckOutbox(path, unreachable, QUIET_MS, log);
    before.record('1.2.3');
    expect(unreachable.calls).toHaveLength(1);
    before.close(); // the process ends before Redis answers

    const queue = recordingQueue();
    const after = new StudyCheckOutbox(path, queue, QUIET_MS, log);
    open.push(after);
    expect(after.pending()).toEqual(['1.2.3']);
    after.flushSoon();
    await until(() => Promise.resolve(after.pending().length === 0 ? true : undefined), 'the hand-over', WAIT);
    expect(queue.calls.map((c) => c.study)).toEqual(['1.2.3']);
    expect(queue.calls[0]?.delayMs).toBeLessThanOrEqual(QUIET_MS);
    expect(queue.calls[0]?.delayMs).toBeGreaterThan(QUIET_MS - 5_000);
  });

  test('the instances of a series share a hand-over or two, not one each', async () => {
    const queue = recordingQueue(() => new Promise((resolve) => setTimeout(resolve, 20)));
    const outbox = new StudyCheckOutbox(path, queue, QUIET_MS, log);
    open.push(outbox);
    for (let i = 0; i < 267; i++) outbox.record('1.2.3');
    await until(() => Promise.resolve(outbox.pending().length === 0 ? true : undefined), 'the hand-overs', WAIT);
    expect(queue.calls.length).toBeLessThanOrEqual(2);
    expect(new Set(queue.calls.map((c) => c.study))).toEqual(new Set(['1.2.3']));
  });

  test('a hand-over that Redis refused is tried again, and the study stays recorded until it succeeds', async () => {
    let refuse = true;
    const queue = recordingQueue(() => (refuse ? Promise.reject(new Error('READONLY replica')) : Promise.resolve()));
    const outbox = new StudyCheckOutbox(path, queue, QUIET_MS, log, 50);
    open.push(outbox);
    outbox.record('1.2.3');
    await until(() => Promise.resolve(queue.calls.length >= 1 ? true : undefined), 'the first hand-over', WAIT);
    expect(outbox.pending()).toEqual(['1.2.3']);
    refuse = false;
    await until(() => Promise.resolve(outbox.pending().length === 0 ? true : undefined), 'the hand-over to succeed', WAIT);
    expect(queue.calls.length).toBeGreaterThanOrEqual(2);
  });

  test('a failed read of its own table is logged and tried again, not a rejection that would end the process', async () => {
    const queue = recordingQueue();
    const lines: string[] = [];
    const outbox = new StudyCheckOutbox(path, queue, QUIET_MS, pino({ level: 'error' }, { write: (l: string) => lines.push(l) }), 50);
    open.push(outbox);
    outbox.record('1.2.3');
    await until(() => Promise.resolve(outbox.pending().length === 0 ? true : undefined), 'the first hand-over', WAIT);
    const statements = (outbox as unknown as { statements: { prepare(sql: string): unknown } }).statements;
    const prepare = statements.prepare.bind(statements);
    let failing = true;
    jest.spyOn(statements, 'prepare').mockImplementation((sql: string) => {
      if (failing && sql.startsWith('SELECT study_uid, stored_at')) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      return prepare(sql);
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      outbox.record('1.2.4');
      await until(() => Promise.resolve(lines.some((l) => l.includes('could not read the study checks')) ? true : undefined), 'the error logged', WAIT);
      failing = false;
      await until(() => Promise.resolve(outbox.pending().length === 0 ? true : undefined), 'the hand-over after the retry', WAIT);
      expect(queue.calls.map((c) => c.study)).toContain('1.2.4');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      jest.restoreAllMocks();
    }
  });

  test('flushes its log to disk when asked, as the archive asks before it acknowledges a store', async () => {
    const synced: string[] = [];
    const outbox = new StudyCheckOutbox(path, recordingQueue(() => new Promise(() => undefined)), QUIET_MS, log, undefined,
      (file) => Promise.resolve(void synced.push(file)));
    open.push(outbox);
    outbox.record('1.2.3');
    await outbox.syncToDisk();
    expect(synced).toEqual([`${path}-wal`]);
  });
});
