import type { InjectionStart, ScanStart } from './decay-times';
import type { SuvInstanceMetadata } from './suv-instance-metadata';
import { suvUnavailable } from './suv-unavailable';

/** The values a clinical PET patient's SUVbw can come from, in the unit PS3.3 gives the attribute. */
interface PlausibleRange {
  readonly attribute: string;
  readonly unit: string;
  readonly min: number;
  readonly max: number;
  /** min and max as a reader would write them. */
  readonly plausible: string;
  readonly value: (m: SuvInstanceMetadata) => number | null;
  /** The likeliest mistake behind a value out of range, for the message. */
  readonly likely: string;
}

/**
 * SUVbw is linear in both, so a value in the wrong unit is a wrong SUV by that unit's factor, not a refusal, unless
 * it is caught here. PatientWeight (PS3.3 C.7.1.3) is in kg: 0.5 kg (a premature newborn) to 500 kg (twice the
 * load limit of PET tables); grams written as kg (70000) would be SUV x1000. RadionuclideTotalDose (PS3.3
 * C.8.9.2) is in Bq: 1 MBq (below the 14 MBq EANM paediatric minimum) to 20 GBq (ten times the largest clinical
 * activities, Rb-82 and O-15 water at ~2 GBq); MBq written as Bq (350) would be SUV x1e6, kBq x1000.
 */
const WEIGHT_AND_DOSE_RANGES: readonly PlausibleRange[] = [
  { attribute: 'PatientWeight (0010,1030)', unit: 'kg', min: 0.5, max: 500, plausible: '0.5–500 kg',
    value: (m) => m.patientWeight, likely: 'grams written as kg?' },
  { attribute: 'RadionuclideTotalDose (0018,1074)', unit: 'Bq', min: 1e6, max: 20e9, plausible: '1 MBq–20 GBq',
    value: (m) => m.radionuclideTotalDose, likely: 'MBq, kBq or mCi written as Bq?' },
];

/** Refuses a PatientWeight or RadionuclideTotalDose outside WEIGHT_AND_DOSE_RANGES, naming the value. */
export function assertPlausibleWeightAndDose(instances: readonly SuvInstanceMetadata[]): void {
  for (const range of WEIGHT_AND_DOSE_RANGES) {
    const outside = instances.map(range.value).find((v) => v !== null && (v < range.min || v > range.max));
    if (outside !== undefined && outside !== null) {
      throw suvUnavailable(`${range.attribute} is ${outside} ${range.unit}: outside the plausible ${range.plausible} ` +
        `for a clinical PET patient (${range.likely})`);
    }
  }
}

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
