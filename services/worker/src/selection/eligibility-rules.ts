import { MIPSEG_MANUFACTURER, SopClass } from '@mipseg/shared/dicom';
import type { PetSeriesCandidate } from './pet-series-header';

export interface EligibilityOptions {
  /** Fewer slices than this cannot be a whole-body (or even a torso) scan. */
  readonly minSlices: number;
  /**
   * Least axial length (slices × spacing, mm) of a series worth analysing: the model reads whole-body MIPs, and a
   * brain, cardiac or head-and-neck scan (about 150–350 mm) is not one, however many thin slices it has. 0: no limit.
   */
  readonly minCoverageMm: number;
}

export const DEFAULT_ELIGIBILITY_OPTIONS: EligibilityOptions = Object.freeze({ minSlices: 50, minCoverageMm: 500 });

/** One eligibility rule: `check` returns null when the series passes, else the reason in words. */
export interface EligibilityRule {
  readonly id: string;
  readonly description: string;
  readonly check: (series: PetSeriesCandidate, options: EligibilityOptions) => string | null;
}

const ACCEPTED_SERIES_TYPES: readonly string[] = ['STATIC', 'WHOLE BODY'];
const MIPSEG_MARKER = MIPSEG_MANUFACTURER.toLowerCase();

const shown = (values: readonly string[]): string => (values.length ? values.join('\\') : 'empty');

export const sliceCount = (series: PetSeriesCandidate): number => series.instanceCount * series.header.numberOfFrames;

/**
 * The slices of the one volume a series holds: at most NumberOfSlices (0054,0081) where it says, since more are
 * duplicates (a re-send under new SOP Instance UIDs) or a second reconstruction under the same Series Instance UID.
 */
export const volumeSliceCount = (series: PetSeriesCandidate): number => {
  const expected = series.header.numberOfSlices;
  return expected ? Math.min(sliceCount(series), expected) : sliceCount(series);
};

/**
 * Axial coverage in mm: the span from first to last slice where planning measured it (PetSeriesCandidate.axialSpanMm),
 * else slices × spacing, or null when the header gives no slice spacing. `slices` counts every slice received by
 * default; ranking between series counts at most NumberOfSlices (volumeSliceCount), so that a doubled series does not
 * win on instances it holds twice. The coverage rule counts them all: a scanner that gives NumberOfSlices for one bed
 * position (81 of 267 slices) must not make a whole-body series look like a head scan.
 */
export function coverageMm(series: PetSeriesCandidate, slices = sliceCount(series)): number | null {
  const spacing = series.header.sliceSpacingMm;
  if (spacing === null) return null;
  return series.axialSpanMm ?? slices * spacing;
}

/**
 * Marks of mipseg's results in the data set. Not the File Meta ImplementationClassUID: it names whoever wrote
 * the file, and mipseg's DIMSE SCP writes its own into every instance it receives by C-STORE.
 */
function isMipsegOutput({ header }: PetSeriesCandidate): string | null {
  if (header.manufacturer?.trim().toLowerCase() === MIPSEG_MARKER) return `Manufacturer is ${header.manufacturer}`;
  if (header.softwareVersions.some((v) => v.toLowerCase().startsWith(MIPSEG_MARKER))) {
    return `SoftwareVersions ${shown(header.softwareVersions)}`;
  }
  return null;
}

/**
 * FDG as data sets name it: SNOMED CT 35321007 (Fludeoxyglucose (18F)), its SNOMED RT (C-B1031) and SNOMED III
 * (Y-X1743) codes, or a name or code meaning such as "FDG -- fluorodeoxyglucose" or "Fluorodeoxyglucose F^18^".
 */
const FDG_CODE_VALUES: readonly string[] = ['35321007', 'C-B1031', 'Y-X1743'];
const FDG_NAME = new RegExp([
  'FDG(?!al)', // not FDGal (fluorodeoxygalactose)
  // Fluorodeoxyglucose, Fludeoxyglucose (INN), Fludesoxyglucose, Fluordesoxyglukose, Fludesoxiglucosa, Fludeossiglucosio
  // (written as one word, or in parts joined by a hyphen or a space: "Fluoro Deoxy Glucose", "Fluorodeoxy glucose")
  'flu(?:oro?|o?r)?[-\\s]?d[eé]s?o(?:x|ss)[yi][-\\s]?glu[ck]os[eai]o?',
  // The chemical name, the fluorine at position 2 only (6-deoxy-6-fluoro-D-glucose is another tracer)
  'fluoro[-\\s]?2-deoxy[-\\s]?(?:d-)?glucose', '2-deoxy-2-.{0,10}fluoro[-\\s]?(?:d-)?glucose',
].join('|'), 'i');

/** Why the series' tracer is not known to be FDG, or null when it is. */
function notFdg({ header }: PetSeriesCandidate): string | null {
  const { name, code } = header.radiopharmaceutical;
  if (code?.value && FDG_CODE_VALUES.includes(code.value)) return null;
  const names = [name, code?.meaning].filter((n): n is string => n !== null && n !== undefined && n !== '');
  if (names.some((n) => FDG_NAME.test(n))) return null;
  const named = names.length ? names.join(' / ') : code?.value ? `code ${code.value}` : null;
  return named === null
    ? 'the radiopharmaceutical is not named (Radiopharmaceutical (0018,0031) and its code are empty): the model is for FDG PET'
    : `the radiopharmaceutical is ${named}, not FDG: the model is for FDG PET`;
}

/**
 * Why a series of this SOP class is not analysed (the 'pet-image-storage' rule), or null for PET Image Storage.
 * Planning asks it of a series of no image SOP class from the index alone, without reading its files.
 */
export function notPetImageStorage(sopClassUid: string | null): string | null {
  if (sopClassUid === SopClass.PositronEmissionTomographyImageStorage) return null;
  // Refused here, as not applicable, rather than chosen and then failed by the volume assembler.
  if (sopClassUid === SopClass.EnhancedPetImageStorage) return 'Enhanced PET Image Storage (multi-frame) is not assembled by mipseg';
  return `SOP Class UID ${sopClassUid ?? 'missing'} is not a PET image storage class`;
}

/** The rules a series must all pass to be segmented, in the order a reader would check them. */
export const SERIES_ELIGIBILITY_RULES: readonly EligibilityRule[] = Object.freeze([
  {
    id: 'modality-pt',
    description: 'Modality (0008,0060) is PT',
    check: ({ header }) => (header.modality === 'PT' ? null : `Modality is ${header.modality ?? 'missing'}`),
  },
  {
    id: 'pet-image-storage',
    description: 'SOP Class is PET Image Storage (single-frame slices: the volume assembler does not take Enhanced PET)',
    check: ({ header }) => notPetImageStorage(header.sopClassUid),
  },
  {
    id: 'original-not-derived',
    description: 'ImageType (0008,0008) value 1 is not DERIVED (a reconstruction, not a derived image)',
    check: ({ header }) => (header.imageType[0]?.toUpperCase() === 'DERIVED' ? `ImageType is ${shown(header.imageType)}` : null),
  },
  {
    id: 'not-mipseg-output',
    description: "not written by mipseg (Manufacturer or SoftwareVersions mark mipseg's results)",
    check: (series) => {
      const mark = isMipsegOutput(series);
      return mark === null ? null : `a mipseg result: ${mark}`;
    },
  },
  {
    id: 'attenuation-and-decay-corrected',
    description: 'CorrectedImage (0028,0051) contains ATTN and DECY',
    check: ({ header }) => {
      const corrections = header.correctedImage.map((c) => c.toUpperCase());
      return corrections.includes('ATTN') && corrections.includes('DECY') ? null
        : `CorrectedImage is ${shown(header.correctedImage)} (ATTN and DECY needed)`;
    },
  },
  {
    id: 'static-or-whole-body',
    description: 'SeriesType (0054,1000) value 1 is STATIC or WHOLE BODY (not DYNAMIC or GATED), value 2 not REPROJECTION',
    // A REPROJECTION series holds projections (a scanner's own MIPs), not the transaxial slices a volume is built from.
    check: ({ header }) => (ACCEPTED_SERIES_TYPES.includes(header.seriesType[0]?.toUpperCase() ?? '') &&
      header.seriesType[1]?.toUpperCase() !== 'REPROJECTION' ? null : `SeriesType is ${shown(header.seriesType)}`),
  },
  {
    id: 'fdg',
    description: 'the radiopharmaceutical is FDG, by its code (SCT 35321007, SRT C-B1031) or name (0018,0031)',
    check: notFdg,
  },
  {
    id: 'all-slices-received',
    description: 'as many slices received as NumberOfSlices (0054,0081) says the series holds, where it says',
    check: (series) => {
      const expected = series.header.numberOfSlices;
      return expected === null || expected === 0 || sliceCount(series) >= expected ? null
        : `${sliceCount(series)} of ${expected} slices received (NumberOfSlices): the series is incomplete`;
    },
  },
  {
    id: 'whole-body-coverage',
    description: 'at least the configured axial length (default 500 mm): slices × SpacingBetweenSlices or SliceThickness where ' +
      'the header gives a spacing; for a series holding more slices than NumberOfSlices, its first slice to its last',
    check: (series, options) => {
      const coverage = coverageMm(series);
      return coverage === null || coverage >= options.minCoverageMm ? null
        : `${Math.round(coverage)} mm of the body (${sliceCount(series)} slices${series.axialSpanMm === undefined ? '' : ', measured from its first slice to its last'}), ` +
          `less than ${options.minCoverageMm} mm: ` +
          'not a whole-body scan (brain, cardiac or head-and-neck PET), which the model is not for';
    },
  },
  {
    id: 'enough-slices',
    description: 'at least the configured number of slices (default 50)',
    check: (series, options) => (sliceCount(series) >= options.minSlices ? null
      : `${sliceCount(series)} slice(s), fewer than ${options.minSlices}`),
  },
]);
