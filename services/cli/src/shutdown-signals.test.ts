import { EventEmitter } from 'node:events';
import pino from 'pino';
import { closeOnSignals } from './shutdown-signals';

/** A process stand-in: signals are events, and exit codes are recorded. */
function fakeProcess(): EventEmitter & { exit(code: number): void; codes: number[] } {
  const host = Object.assign(new EventEmitter(), { codes: [] as number[], exit: (code: number) => { host.codes.push(code); } });
  return host;
}

describe('closing on SIGTERM or SIGINT', () => {
  test('closes once however the signals come, and exits 0 once everything closed', async () => {
    const host = fakeProcess();
    let closes = 0;
    let finish = (): void => undefined;
    closeOnSignals(pino({ level: 'silent' }), 'shutting down', () => { closes += 1; return new Promise<boolean>((r) => { finish = () => r(true); }); }, host);
    host.emit('SIGTERM');
    expect([closes, host.codes]).toEqual([1, []]);
    finish();
    await new Promise((r) => setImmediate(r));
    expect(host.codes).toEqual([0]);
  });

  test('a second signal while closing exits at once with 1 and starts no second close', () => {
    const host = fakeProcess();
    let closes = 0;
    closeOnSignals(pino({ level: 'silent' }), 'shutting down', () => { closes += 1; return new Promise<boolean>(() => undefined); }, host);
    host.emit('SIGTERM');
    host.emit('SIGINT');
    expect([closes, host.codes]).toEqual([1, [1]]);
  });

  test('exits 1 when a part did not close, or the close failed', async () => {
    for (const close of [() => Promise.resolve(false), () => Promise.reject(new Error('Connection is closed.'))]) {
      const host = fakeProcess();
      closeOnSignals(pino({ level: 'silent' }), 'shutting down', close, host);
      host.emit('SIGINT');
      await new Promise((r) => setImmediate(r));
      expect(host.codes).toEqual([1]);
    }
  });
});
