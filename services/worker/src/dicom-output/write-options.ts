import { newUid } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { ModelManifest } from '@mipseg/shared/inference';
import { dicomTimestamp, parseUtcOffset, type DicomTimestamp } from './dicom-values';

/** General Equipment of mipseg itself, as written into every result (Manufacturer is always mipseg). */
export interface EquipmentIdentity {
  /** ManufacturerModelName (LO): the product, e.g. 'mipseg'. */
  readonly manufacturerModelName: string;
  /** SoftwareVersions (LO): mipseg's release. */
  readonly softwareVersions: string;
  /** DeviceSerialNumber (LO): which installation wrote the result (e.g. the host or deployment name). */
  readonly deviceSerialNumber: string;
}

/** The AI model that produced a segmentation: its manifest's name and version. */
export interface AlgorithmIdentity {
  readonly name: string;
  readonly version: string;
  /** A short description (architecture), written as AlgorithmParameters and ContributionDescription. */
  readonly description: string;
}

/** Options every derived-instance writer takes. Tests inject `newUid` and `now` for byte-stable output. */
export interface DerivedInstanceOptions {
  readonly equipment: EquipmentIdentity;
  /**
   * SeriesNumber of the new series. Defaults: MIP 9001, SEG 9002 (after any scanner series), 2 more for each
   * result version after the first.
   */
  readonly seriesNumber?: number;
  /**
   * The result's version (AnalysisRequest.version: 1 for a series' first result, +1 for each re-run or update
   * after a late instance). Default 1. From 2 on, the series description names it, so a PACS or viewer that
   * shows every version of a study's results tells them apart.
   */
  readonly resultVersion?: number;
  /** UID generator. Default: newUid (2.25 + random UUID). */
  readonly newUid?: () => string;
  /** Clock for InstanceCreation/Content date and time. Default: the current time. */
  readonly now?: () => Date;
}

/**
 * SeriesNumber and SeriesDescription of a result series, for its version (see DerivedInstanceOptions): `title`, the
 * source series it was made from where that has a number ("MIP (SUV) of series 3 - mipseg v2"). LO holds 64 characters:
 * a ten-digit series number and v100 still fit; anything longer is cut with the other descriptive text (fitTextToVrs).
 */
export function resultSeries(options: DerivedInstanceOptions, firstSeriesNumber: number, title: string, sourceSeriesNumber: number | null):
  { readonly SeriesNumber: number; readonly SeriesDescription: string } {
  const version = options.resultVersion ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID', `result version ${version}`);
  }
  const of = sourceSeriesNumber === null ? '' : ` of series ${sourceSeriesNumber}`;
  return {
    SeriesNumber: options.seriesNumber ?? firstSeriesNumber + 2 * (version - 1),
    SeriesDescription: `${title}${of} - mipseg${version === 1 ? '' : ` v${version}`}`,
  };
}

/** The algorithm identity a segmentation result declares, read from the model's manifest. */
export function algorithmFromManifest(manifest: ModelManifest): AlgorithmIdentity {
  return { name: manifest.name, version: manifest.version, description: manifest.architecture.name };
}

export interface ResolvedWriteContext {
  readonly newUid: () => string;
  /** The clock's reading, in the source's time zone where it states one. */
  readonly now: DicomTimestamp;
}

// LO (PS3.5 6.2): at most 64 characters. dcmjs would cut a longer value silently.
const LO_MAX_LENGTH = 64;

/**
 * Throws MIPSEG_DICOM_OUTPUT_INVALID for a configured text that is not a Type 1 LO value: too long, a backslash, or
 * empty. Every text checked here is Type 1 where it is written (Enhanced General Equipment, the segment and its
 * algorithm), and LO's leading and trailing spaces are not significant (PS3.5 6.2), so spaces alone are empty too.
 */
export function assertType1LongStrings(values: Readonly<Record<string, string>>): void {
  const invalid = Object.entries(values).filter(([, v]) => v.length > LO_MAX_LENGTH || v.includes('\\') || v.trim() === '');
  if (invalid.length) {
    throw new MipsegError('MIPSEG_DICOM_OUTPUT_INVALID',
      invalid.map(([k, v]) => `${k} "${v.slice(0, 80)}" is not a Type 1 LO value (1 to 64 characters, no backslash)`).join('; '));
  }
}

/**
 * Checks the equipment texts and fixes the UID generator and clock for one instance. `timezoneOffsetFromUtc`
 * is the source's (0008,0201), which the results copy.
 */
export function resolveWriteContext(options: DerivedInstanceOptions, timezoneOffsetFromUtc: string): ResolvedWriteContext {
  const e = options.equipment;
  assertType1LongStrings({
    ManufacturerModelName: e.manufacturerModelName, SoftwareVersions: e.softwareVersions, DeviceSerialNumber: e.deviceSerialNumber,
  });
  const instant = (options.now ?? (() => new Date()))();
  return { newUid: options.newUid ?? newUid, now: dicomTimestamp(instant, parseUtcOffset(timezoneOffsetFromUtc)) };
}
