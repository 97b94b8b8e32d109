import { createLogger } from './logger';
import { RepeatedFailureLog } from './repeated-failure-log';

interface Line { level: number; msg: string; err?: { stack?: string }; failures?: number; failingForMs?: number; failedForMs?: number;
  lastError?: { message: string; code?: string } }

function capture(): { lines: Line[]; log: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  return { lines, log: createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as Line) }) };
}

describe('the log of a failure that keeps recurring', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => {
    clock = 1_000_000;
  });

  test('logs the first failure in full, then one summary per interval, then one line when it recovers', () => {
    const { lines, log } = capture();
    const failures = new RepeatedFailureLog(log, { message: 'tick failed', recoveredMessage: 'ticks again', summaryIntervalMs: 10_000, now });
    const full = Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
    // Five failures a second for 25 seconds.
    for (let i = 0; i < 125; i++) {
      failures.failed(full);
      clock += 200;
    }
    failures.recovered();
    failures.recovered();

    expect(lines.map((l) => l.msg)).toEqual(['tick failed', 'tick failed (still failing)', 'tick failed (still failing)', 'ticks again']);
    expect(lines[0]?.err?.stack).toContain('SQLITE_FULL');
    expect(lines[1]).toMatchObject({ failures: 50, failingForMs: 10_000, lastError: { message: full.message, code: 'SQLITE_FULL' } });
    expect(lines[1]?.err).toBeUndefined();
    expect(lines[3]).toMatchObject({ level: 30, failures: 125 });
  });

  test('a failure after the recovery is logged in full again', () => {
    const { lines, log } = capture();
    const failures = new RepeatedFailureLog(log, { message: 'tick failed', recoveredMessage: 'ticks again', now, level: 'warn' });
    failures.recovered();
    failures.failed(new Error('first'));
    failures.recovered();
    failures.failed(new Error('second'));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[40, 'tick failed'], [30, 'ticks again'], [40, 'tick failed']]);
    expect(lines[2]?.err?.stack).toContain('second');
  });
});
