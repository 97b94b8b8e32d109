export { loadConfig, isBearerToken, isLoopback, normaliseHostname, stowTokenFor, DEFAULTS } from './config';
export type { Config, ConfigKey } from './config';
export { siteZoneAt, type SiteZoneAt } from './site-time-zone';
