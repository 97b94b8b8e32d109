export { loadConfig, isLoopback, normaliseHostname, DEFAULTS } from './config';
export type { Config, ConfigKey } from './config';
