export { selectPetSeries } from './select-pet-series';
export type { PetSeriesSelection, SeriesVerdict, RuleFailure } from './select-pet-series';
export { SERIES_ELIGIBILITY_RULES, DEFAULT_ELIGIBILITY_OPTIONS, notPetImageStorage, sliceCount, volumeSliceCount } from './eligibility-rules';
export type { EligibilityRule, EligibilityOptions } from './eligibility-rules';
export { readPetSeriesHeader, readPetSeriesHeaderFromDataSet } from './pet-series-header';
export type { PetSeriesHeader, PetSeriesCandidate } from './pet-series-header';
export { axialSpanMm, readSlicePlacement } from './axial-span';
export type { SlicePlacement } from './axial-span';
