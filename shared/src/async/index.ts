export { withTimeout } from './with-timeout';
export { DAY_MS, runDaily, type DailyOptions, type DailyOutcome } from './daily';
