import type { EventEmitter } from 'node:events';
import type { Logger } from '@mipseg/shared/log';

/**
 * On the first SIGTERM or SIGINT, runs `close` once and exits with 0 when it closed everything, else 1. A second
 * signal while it runs (Ctrl-C pressed again) exits at once with 1, said in the log: before, SIGTERM then SIGINT
 * started a second close beside the first (the worker's failed on a closed Redis connection and exited mid-close),
 * and the same signal twice ended the process by the signal's default action, unlogged.
 */
export function closeOnSignals(log: Logger, closing: string, close: () => Promise<boolean>,
  host: Pick<EventEmitter, 'on'> & { exit(code: number): void } = process): void {
  let started = false;
  const onSignal = (signal: string): void => {
    if (started) {
      log.warn({ signal }, 'second signal during shutdown: exiting now, without waiting for it to finish');
      host.exit(1);
      return;
    }
    started = true;
    log.info({ signal }, closing);
    close().then((closed) => host.exit(closed ? 0 : 1), (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      host.exit(1);
    });
  };
  host.on('SIGTERM', () => onSignal('SIGTERM'));
  host.on('SIGINT', () => onSignal('SIGINT'));
}
