/** The site's zone and its offset at one moment. */
export interface SiteZoneAt {
  /** The zone's name, as node resolved TZ. */
  readonly zone: string;
  /** Seconds east of UTC at that moment (summer time included). */
  readonly offsetSeconds: number;
}

/**
 * The site's zone at a moment (seconds since 1970-01-01 00:00 UTC), where TZ names that zone (README: set TZ to the
 * scanners' zone; config refuses a name node does not know); null where TZ is not set. Node then takes the host's
 * zone, which in a container is UTC whatever the scanners use: no evidence of theirs. Read from the environment
 * each time, since analysis threads ask too (their environment is the process's copy).
 */
export function siteZoneAt(utcSeconds: number): SiteZoneAt | null {
  if (!process.env['TZ']) return null;
  // TZ sets node's local zone; getTimezoneOffset is minutes west of UTC at that moment.
  return { zone: Intl.DateTimeFormat().resolvedOptions().timeZone, offsetSeconds: -new Date(Math.floor(utcSeconds) * 1000).getTimezoneOffset() * 60 };
}
