export { loadConfig, isLoopback, normaliseHostname, stowTokenFor, DEFAULTS } from './config';
export type { Config, ConfigKey } from './config';
