import { EventEmitter } from 'node:events';
import pino from 'pino';
import { closeOnSignals } from './shutdown-signals';

/** A process stand-in: signals are events, and exit codes are recorded. */
function fakeProcess(): EventEmitter & { exit(code: number): void; codes: number[] } {
  const host = Object.assign(new EventEmitter(), { codes: [] as number[], exit: (code: number) => { host.codes.push(code); } });
  return host;
}

const silent = pino({ level: 'silent' });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A start-up that finishes when the test says. */
function slowStart(): { start: () => Promise<string>; finish: () => void; fail: (err: Error) => void } {
  let finish = (): void => undefined;
  let fail = (_err: Error): void => undefined;
  const started = new Promise<string>((resolve, reject) => {
    finish = () => resolve('service');
    fail = reject;
  });
  return { start: () => started, finish: () => finish(), fail: (err) => fail(err) };
}

describe('closing on SIGTERM or SIGINT', () => {
  test('closes once however the signals come, and exits 0 once everything closed', async () => {
    const host = fakeProcess();
    let closes = 0;
    let finish = (): void => undefined;
    await closeOnSignals(silent, 'shutting down', () => Promise.resolve('service'),
      () => { closes += 1; return new Promise<boolean>((r) => { finish = () => r(true); }); }, host);
    host.emit('SIGTERM');
    await turn();
    expect([closes, host.codes]).toEqual([1, []]);
    finish();
    await turn();
    expect(host.codes).toEqual([0]);
  });

  test('a second signal while closing exits at once with 1 and starts no second close', async () => {
    const host = fakeProcess();
    let closes = 0;
    await closeOnSignals(silent, 'shutting down', () => Promise.resolve('service'),
      () => { closes += 1; return new Promise<boolean>(() => undefined); }, host);
    host.emit('SIGTERM');
    await turn();
    host.emit('SIGINT');
    expect([closes, host.codes]).toEqual([1, [1]]);
  });

  test('exits 1 when a part did not close, or the close failed', async () => {
    for (const close of [() => Promise.resolve(false), () => Promise.reject(new Error('Connection is closed.'))]) {
      const host = fakeProcess();
      await closeOnSignals(silent, 'shutting down', () => Promise.resolve('service'), close, host);
      host.emit('SIGINT');
      await turn();
      expect(host.codes).toEqual([1]);
    }
  });
});

describe('a signal during start-up (a model still loading)', () => {
  test('is taken, not left to the default action, and closes what started once start-up finishes, exiting 0', async () => {
    const host = fakeProcess();
    const { start, finish } = slowStart();
    const closed: string[] = [];
    const started = closeOnSignals(silent, 'shutting down', start, (service) => { closed.push(service); return Promise.resolve(true); }, host);
    // Registered before start-up finished: the signal has a listener, so node does not end the process.
    expect(host.listenerCount('SIGTERM')).toBe(1);
    host.emit('SIGTERM');
    await turn();
    expect([closed, host.codes]).toEqual([[], []]);
    finish();
    await expect(started).resolves.toBe('service');
    await turn();
    expect([closed, host.codes]).toEqual([['service'], [0]]);
  });

  test('is logged as one during start-up', async () => {
    const host = fakeProcess();
    const { start, finish } = slowStart();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    void closeOnSignals(log, 'shutting down', start, () => Promise.resolve(true), host);
    host.emit('SIGINT');
    finish();
    await turn();
    await turn();
    expect(lines.join('')).toMatch(/signal during start-up: stopping once start-up has finished/);
  });

  test('exits 1 where start-up fails after it, with nothing to close', async () => {
    const host = fakeProcess();
    const { start, fail } = slowStart();
    let closes = 0;
    const started = closeOnSignals(silent, 'shutting down', start, () => { closes += 1; return Promise.resolve(true); }, host);
    host.emit('SIGTERM');
    fail(new Error('EADDRINUSE'));
    await expect(started).rejects.toThrow('EADDRINUSE');
    await turn();
    expect([closes, host.codes]).toEqual([0, [1]]);
  });

  test('a second signal during start-up exits at once with 1', () => {
    const host = fakeProcess();
    void closeOnSignals(silent, 'shutting down', slowStart().start, () => Promise.resolve(true), host);
    host.emit('SIGTERM');
    host.emit('SIGTERM');
    expect(host.codes).toEqual([1]);
  });
});
