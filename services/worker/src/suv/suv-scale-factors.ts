import { calculateSUVScalingFactors, type InstanceMetadata } from '@cornerstonejs/calculate-suv';
import { fromAcrNemaDate, fromAcrNemaTime } from '@mipseg/shared/dicom';
import { injectionStart, scanStart, type DicomMoment, type ScanStart } from './decay-times';
import type { SuvInstanceMetadata } from './suv-instance-metadata';
import { assertPlausibleUptake, assertPlausibleWeightAndDose } from './suv-plausibility';
import { suvUnavailable as unavailable } from './suv-unavailable';

/** An input SUVbw scaling reads, and how to tell it is missing from an instance. */
interface Requirement {
  readonly attribute: string;
  readonly missing: (m: SuvInstanceMetadata) => boolean;
}

const positive = (v: number | null): boolean => v !== null && v > 0;

const WEIGHT_AND_DOSE: readonly Requirement[] = [
  { attribute: 'PatientWeight (0010,1030)', missing: (m) => !positive(m.patientWeight) },
  { attribute: 'RadionuclideTotalDose (0018,1074)', missing: (m) => !positive(m.radionuclideTotalDose) },
];

/** Decay correction to the scan start also needs the half-life, the injection time and the scan times. */
const DECAY_TO_SCAN_START: readonly Requirement[] = [
  ...WEIGHT_AND_DOSE,
  { attribute: 'RadionuclideHalfLife (0018,1075)', missing: (m) => !positive(m.radionuclideHalfLife) },
  {
    attribute: 'RadiopharmaceuticalStartTime (0018,1072) or RadiopharmaceuticalStartDateTime (0018,1078)',
    missing: (m) => m.radiopharmaceuticalStartTime === null && m.radiopharmaceuticalStartDateTime === null,
  },
  { attribute: 'SeriesDate (0008,0021)', missing: (m) => m.seriesDate === null },
  { attribute: 'SeriesTime (0008,0031)', missing: (m) => m.seriesTime === null },
  { attribute: 'AcquisitionDate (0008,0022)', missing: (m) => m.acquisitionDate === null },
  { attribute: 'AcquisitionTime (0008,0032)', missing: (m) => m.acquisitionTime === null },
];

function assertPresent(instances: readonly SuvInstanceMetadata[], requirements: readonly Requirement[]): void {
  const missing = requirements.filter((r) => instances.some(r.missing)).map((r) => r.attribute);
  if (missing.length > 0) throw unavailable(`missing ${missing.join(', ')}`);
}

function assertCorrected(first: SuvInstanceMetadata): void {
  const corrections = new Set(first.correctedImage.map((c) => c.toUpperCase()));
  if (!corrections.has('ATTN') || !corrections.has('DECY')) {
    throw unavailable(`CorrectedImage (0028,0051) is "${first.correctedImage.join('\\')}": ` +
      'SUV needs attenuation (ATTN) and decay (DECY) corrected images');
  }
}

function assertCntsFactor(instances: readonly SuvInstanceMetadata[]): void {
  const hasFactor = (m: SuvInstanceMetadata): boolean =>
    positive(m.philipsSuvScaleFactor) || positive(m.philipsActivityConcentrationScaleFactor);
  if (!instances.every(hasFactor)) {
    throw unavailable('Units CNTS without the Philips SUV Scale Factor (7053,xx00) or Activity Concentration ' +
      'Scale Factor (7053,xx09) on every instance');
  }
}

/**
 * calculate-suv's input: DICOM keywords, optional values left out rather than null. PatientSex goes in only as
 * M or F: the library uses it for SUVlbm alone, yet throws on O (other), which would cost the SUVbw as well.
 * Code strings go in upper-cased, as mipseg's own checks read them; the library compares them case-sensitively.
 * The injection goes in as a date and time always (see injectionStart): given a time alone, the library dates
 * it on SeriesDate, which is wrong across midnight and for a series re-processed on a later day. So does GE's
 * scan start where scanStart took it (see there).
 */
function toLibraryInput(m: SuvInstanceMetadata, injection: DicomMoment, scan: ScanStart): InstanceMetadata {
  const optional = <K extends string, V>(name: K, value: V | null): Partial<Record<K, V>> =>
    (value === null ? {} : ({ [name]: value } as Record<K, V>));
  const philips = m.philipsSuvScaleFactor !== null || m.philipsActivityConcentrationScaleFactor !== null;
  return {
    CorrectedImage: m.correctedImage.map((c) => c.toUpperCase()),
    Units: m.units?.toUpperCase() ?? '',
    RadionuclideHalfLife: m.radionuclideHalfLife ?? 0,
    RadionuclideTotalDose: m.radionuclideTotalDose ?? 0,
    DecayCorrection: m.decayCorrection?.toUpperCase() ?? '',
    PatientWeight: m.patientWeight ?? 0,
    // In the PS3.5 forms, as scanStart reads them: the library refuses ACR-NEMA's yyyy.mm.dd and hh:mm:ss.
    SeriesDate: fromAcrNemaDate(m.seriesDate ?? ''),
    SeriesTime: fromAcrNemaTime(m.seriesTime ?? ''),
    AcquisitionDate: fromAcrNemaDate(m.acquisitionDate ?? ''),
    AcquisitionTime: fromAcrNemaTime(m.acquisitionTime ?? ''),
    RadiopharmaceuticalStartDateTime: `${injection.date}${injection.time}`,
    // The library decays to GE's time when it would (as scanStart does), but reads it without its UTC offset:
    // where scanStart took it, it goes in as scanStart read it, on the instance's clock.
    ...optional('GEPrivatePostInjectionDateTime', scan.fromGePrivate ? `${scan.date}${scan.time}` : m.gePostInjectionDateTime),
    ...optional('FrameReferenceTime', m.frameReferenceTime),
    ...optional('ActualFrameDuration', m.actualFrameDuration),
    ...optional('PatientSize', m.patientSize),
    ...optional('PatientSex', m.patientSex === 'M' || m.patientSex === 'F' ? m.patientSex : null),
    ...(philips ? { PhilipsPETPrivateGroup: {
      SUVScaleFactor: m.philipsSuvScaleFactor ?? undefined,
      ActivityConcentrationScaleFactor: m.philipsActivityConcentrationScaleFactor ?? undefined,
    } } : {}),
  };
}

/**
 * calculate-suv console.warns on every call without PatientSize (its SUVlbm and SUVbsa factors, which mipseg
 * does not use); the call is synchronous, so muting console.warn for its duration touches nothing else.
 */
function withoutLibraryWarnings<T>(run: () => T): T {
  const warn = console.warn;
  console.warn = (): void => undefined;
  try {
    return run();
  } finally {
    console.warn = warn;
  }
}

function decayCorrectedToScanStart(instances: readonly SuvInstanceMetadata[]): number[] {
  assertPresent(instances, DECAY_TO_SCAN_START);
  assertPlausibleWeightAndDose(instances);
  const first = instances[0] as SuvInstanceMetadata;
  const scan = scanStart(instances);
  const injection = injectionStart(first, scan);
  assertPlausibleUptake(injection, scan, first.radionuclideHalfLife as number);
  const input = instances.map((m) => toLibraryInput(m, injection, scan));
  try {
    return withoutLibraryWarnings(() => calculateSUVScalingFactors(input)).map((f) => f.suvbw);
  } catch (err) {
    throw unavailable(`calculate-suv refused the series: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/**
 * Philips CNTS with the SUV Scale Factor (7053,xx00) on every instance: the scanner's own SUVbw factor, decay
 * included, as calculate-suv would return it. Not through the library, which computes a decay factor for every series
 * first and so would refuse one that lacks the injection time or half-life, or says ADMIN, although it needs none.
 * Weight and dose are in the factor already, so neither is required (a de-identified series often lacks the weight);
 * where given they are still checked, since the scanner made its factor from the same console entries.
 */
function philipsSuvFactors(instances: readonly SuvInstanceMetadata[]): number[] {
  // 0, as a console writes a weight not entered, is absent here as in WEIGHT_AND_DOSE, not an implausible value.
  const given = (v: number | null): number | null => (positive(v) ? v : null);
  assertPlausibleWeightAndDose(instances.map((m) =>
    ({ ...m, patientWeight: given(m.patientWeight), radionuclideTotalDose: given(m.radionuclideTotalDose) })));
  return instances.map((m) => m.philipsSuvScaleFactor as number);
}

/** DecayCorrection ADMIN: the images are already decay corrected to the injection, so the dose is used as given. */
function decayCorrectedToAdministration(instances: readonly SuvInstanceMetadata[]): number[] {
  assertPresent(instances, WEIGHT_AND_DOSE);
  assertPlausibleWeightAndDose(instances);
  return instances.map((m) => ((m.patientWeight as number) * 1000) / (m.radionuclideTotalDose as number));
}

/**
 * GML values are SUVbw only when SUV Type (0054,1006) says BW or, as before the attribute existed, nothing: an
 * SUL (LBM) series read as SUVbw would be a third dimmer than the model expects and labelled wrongly.
 */
function gmlAsBodyWeight(first: SuvInstanceMetadata, instances: readonly SuvInstanceMetadata[]): number[] {
  const suvType = first.suvType?.toUpperCase() ?? null;
  if (suvType !== null && suvType !== 'BW') {
    throw unavailable(`Units (0054,1001) is GML with SUVType (0054,1006) ${suvType}: only body-weight SUV (BW) is analysed`);
  }
  return instances.map(() => 1);
}

/**
 * SUVbw scale factors, one per instance (SUVbw = rescaled value x factor), for the instances of one series.
 * Units BQML and Philips CNTS go through @cornerstonejs/calculate-suv (decay correction to the scan start,
 * GE and Philips private attributes); GML is already SUVbw (factor 1); DecayCorrection ADMIN divides by the
 * dose as given. Anything else is refused with MIPSEG_SUV_UNAVAILABLE naming the attribute at fault.
 */
export function computeSuvScaleFactors(instances: readonly SuvInstanceMetadata[]): number[] {
  const first = instances[0];
  if (first === undefined) throw unavailable('no instances');
  const units = first.units?.toUpperCase() ?? null;
  if (units === null) throw unavailable('missing Units (0054,1001)');
  if (units === 'GML') return gmlAsBodyWeight(first, instances);
  if (units !== 'BQML' && units !== 'CNTS') {
    throw unavailable(`Units (0054,1001) is ${units}: only BQML, CNTS (Philips, with its SUV factor) and GML ` +
      'can be converted to SUVbw');
  }
  assertCorrected(first);
  if (units === 'CNTS') assertCntsFactor(instances);
  if (units === 'CNTS' && instances.every((m) => positive(m.philipsSuvScaleFactor))) return philipsSuvFactors(instances);
  const decay = first.decayCorrection?.toUpperCase() ?? null;
  if (decay === 'START') return decayCorrectedToScanStart(instances);
  if (decay === 'ADMIN' && units === 'BQML') return decayCorrectedToAdministration(instances);
  throw unavailable(`DecayCorrection (0054,1102) is ${decay ?? 'missing'}: SUVbw is computed for START ` +
    '(and ADMIN with BQML)');
}
