export { loadConfig, isLoopback, DEFAULTS } from './config';
export type { Config, ConfigKey } from './config';
