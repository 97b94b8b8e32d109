export const DAY_MS = 86_400_000;

/**
 * Runs `task` now and then once a day, never two at once; `stop` ends the schedule and waits for a run in progress.
 * A run that fails is the task's to report: housekeeping (retention) must not take the service down, and the next
 * day tries again.
 */
export function runDaily(task: () => Promise<void>): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const run = (): void => {
    if (running) return;
    running = task().finally(() => {
      running = undefined;
    });
  };
  run();
  const timer = setInterval(run, DAY_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
