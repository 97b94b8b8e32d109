import type { EventEmitter } from 'node:events';
import type { Logger } from '@mipseg/shared/log';

type SignalHost = Pick<EventEmitter, 'on'> & { exit(code: number): void };

/**
 * Registers for SIGTERM and SIGINT before `start` runs, and on the first signal closes what it started, once, exiting
 * with 0 when that closed everything, else 1. A signal during start-up (a model still loading) is logged and acted on
 * once start-up has finished: what started is then closed as a shutdown would close it (a start-up that fails has
 * undone itself, and the process exits 1). Before, the handlers were registered only once start-up had finished, and
 * a SIGTERM during it ended the process by the signal's default action, unlogged, with nothing undone. A second
 * signal while it runs (Ctrl-C pressed again) exits at once with 1, said in the log. Resolves what `start` resolves.
 */
export function closeOnSignals<T>(log: Logger, closing: string, start: () => Promise<T>,
  close: (started: T) => Promise<boolean>, host: SignalHost = process): Promise<T> {
  let signalled = false;
  let startedUp = false;
  const onSignal = (signal: string): void => {
    if (signalled) {
      log.warn({ signal }, 'second signal during shutdown: exiting now, without waiting for it to finish');
      host.exit(1);
      return;
    }
    signalled = true;
    if (!startedUp) log.info({ signal }, 'signal during start-up: stopping once start-up has finished');
    // `starting` is set below, before any signal can be taken: the listeners run from the event loop, not in this call.
    starting.then((started) => {
      log.info({ signal }, closing);
      return close(started);
    }).then((closed) => host.exit(closed ? 0 : 1), (err: unknown) => {
      log.error({ err }, startedUp ? 'shutdown failed' : 'start-up failed');
      host.exit(1);
    });
  };
  host.on('SIGTERM', () => onSignal('SIGTERM'));
  host.on('SIGINT', () => onSignal('SIGINT'));
  const starting = start();
  starting.then(() => (startedUp = true), () => undefined);
  return starting;
}
