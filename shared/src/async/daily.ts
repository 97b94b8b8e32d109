export const DAY_MS = 86_400_000;

/** What a daily task says of its run: done for the day, or to be tried again soon (what it needs is not there yet). */
export type DailyOutcome = 'done' | 'again-soon';

export interface DailyOptions {
  /** How soon a run that says 'again-soon' is tried again. */
  readonly retryMs?: number;
}

const DEFAULT_RETRY_MS = 60_000;

/**
 * Runs `task` now and then once a day, never two at once; `stop` ends the schedule and waits for a run in progress.
 * A run that fails is the task's to report: housekeeping (retention) must not take the service down. A run that
 * says 'again-soon' (Redis not connected yet, as at start-up) is tried again after `retryMs` rather than the next day:
 * a service restarted more often than daily would otherwise never run it.
 */
export function runDaily(task: () => Promise<DailyOutcome | void>, options: DailyOptions = {}): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): void => {
    if (running || stopped) return;
    clearTimeout(retry);
    retry = undefined;
    running = task().then((outcome) => {
      if (outcome === 'again-soon' && !stopped) {
        retry = setTimeout(run, options.retryMs ?? DEFAULT_RETRY_MS);
        retry.unref();
      }
    }).finally(() => {
      running = undefined;
    });
  };
  run();
  const timer = setInterval(run, DAY_MS);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(retry);
      await running;
    },
  };
}
