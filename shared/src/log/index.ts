export { createLogger } from './logger';
export type { Logger } from './logger';
export { RepeatedFailureLog, FAILURE_SUMMARY_INTERVAL_MS } from './repeated-failure-log';
export type { RepeatedFailureLogOptions } from './repeated-failure-log';
