import type { InjectionStart, ScanStart } from './decay-times';
import { suvUnavailable } from './suv-unavailable';

/**
 * The longest uptake accepted, in half-lives of the radionuclide: after 10, less than 1/1000 of the activity is
 * left, far beyond any clinical protocol (FDG delayed imaging ~2, Ga-68 at 3 h ~2.6, Cu-64 at 48 h ~3.8, Zr-89 at
 * 7 days ~2.1). Counted in half-lives, not hours, because an error in the uptake time scales SUV by 2^(error /
 * half-life): an F-18 injection dated a day early (x8900), or an injection clock a few minutes ahead of the scanner
 * that the midnight rule turns into a 23.9 h uptake, is refused, while Zr-89 imaged on day 7 is not.
 */
export const MAX_UPTAKE_HALF_LIVES = 10;

const hours = (seconds: number): string => `${(seconds / 3600).toFixed(2)} h`;

/** Refuses an injection after the scan start, or an uptake too long to be a clinical scan (MAX_UPTAKE_HALF_LIVES). */
export function assertPlausibleUptake(injection: InjectionStart, scan: ScanStart, halfLifeSeconds: number): void {
  const uptake = scan.seconds - injection.seconds;
  const injected = `${injection.source}, taken as ${injection.date} ${injection.time}`;
  const scanned = `the scan start ${scan.date} ${scan.time} (${scan.source})`;
  if (uptake < 0) throw suvUnavailable(`the injection, ${injected}, is ${hours(-uptake)} after ${scanned}`);
  const halfLives = uptake / halfLifeSeconds;
  if (halfLives > MAX_UPTAKE_HALF_LIVES) {
    throw suvUnavailable(`uptake time ${hours(uptake)} from the injection, ${injected}, to ${scanned} is ` +
      `${halfLives.toFixed(1)} half-lives of RadionuclideHalfLife (0018,1075) ${halfLifeSeconds} s: more than ` +
      `${MAX_UPTAKE_HALF_LIVES} is not a clinical PET scan (a wrong date or time of injection or scan)`);
  }
}
