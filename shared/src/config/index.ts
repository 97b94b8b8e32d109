export { canonicalIp, loadConfig, isBearerToken, isLoopback, normaliseHostname, splitAllowedAeEntry, stowTokenFor, DEFAULTS } from './config';
export type { Config, ConfigKey } from './config';
export { siteZoneAt, type SiteZoneAt } from './site-time-zone';
