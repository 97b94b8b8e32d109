import {
  DEFAULT_ELIGIBILITY_OPTIONS,
  SERIES_ELIGIBILITY_RULES,
  sliceCount,
  type EligibilityOptions,
  type EligibilityRule,
} from './eligibility-rules';
import type { PetSeriesCandidate } from './pet-series-header';

/** A rule a series failed, and why. */
export interface RuleFailure {
  readonly ruleId: string;
  readonly reason: string;
}

/** How one series fared against every rule. */
export interface SeriesVerdict {
  readonly seriesInstanceUid: string;
  readonly eligible: boolean;
  readonly failures: readonly RuleFailure[];
}

export type PetSeriesSelection =
  | { readonly status: 'selected'; readonly series: PetSeriesCandidate; readonly verdicts: readonly SeriesVerdict[] }
  | { readonly status: 'not-applicable'; readonly reason: string; readonly verdicts: readonly SeriesVerdict[] };

function judge(series: PetSeriesCandidate, rules: readonly EligibilityRule[], options: EligibilityOptions): SeriesVerdict {
  const failures = rules.flatMap((rule) => {
    const reason = rule.check(series, options);
    return reason === null ? [] : [{ ruleId: rule.id, reason }];
  });
  return { seriesInstanceUid: series.header.seriesInstanceUid, eligible: failures.length === 0, failures };
}

/** Coverages this close count as the same (two reconstructions of one whole-body scan differ by a slice or two). */
const COVERAGE_STEP_MM = 20;

/** Axial coverage in steps of COVERAGE_STEP_MM, or null when the header gives no slice spacing. */
function coverageSteps(series: PetSeriesCandidate): number | null {
  const spacing = series.header.sliceSpacingMm;
  return spacing === null ? null : Math.round((sliceCount(series) * spacing) / COVERAGE_STEP_MM);
}

/**
 * Preference among eligible series: the longest axial coverage (the whole-body reconstruction over a partial or a
 * high-resolution head-and-neck one, which can hold more, thinner slices), then the most slices, then the lowest
 * SeriesNumber, then UID.
 */
function preferred(a: PetSeriesCandidate, b: PetSeriesCandidate): number {
  const [coverageA, coverageB] = [coverageSteps(a), coverageSteps(b)];
  const byCoverage = coverageA !== null && coverageB !== null ? coverageB - coverageA : 0;
  return byCoverage || sliceCount(b) - sliceCount(a) || (a.header.seriesNumber ?? Infinity) - (b.header.seriesNumber ?? Infinity) ||
    a.header.seriesInstanceUid.localeCompare(b.header.seriesInstanceUid);
}

function notApplicableReason(verdicts: readonly SeriesVerdict[]): string {
  if (verdicts.length === 0) return 'the study has no series';
  return verdicts.map((v) => `${v.seriesInstanceUid}: ${v.failures.map((f) => f.reason).join('; ')}`).join(' | ');
}

/**
 * Chooses the PET series of a study to segment, by SERIES_ELIGIBILITY_RULES. Returns the chosen series, or
 * 'not-applicable' with every series' failed rules; every verdict is kept for the audit trail either way.
 */
export function selectPetSeries(
  seriesList: readonly PetSeriesCandidate[],
  options: Partial<EligibilityOptions> = {},
  rules: readonly EligibilityRule[] = SERIES_ELIGIBILITY_RULES,
): PetSeriesSelection {
  const settings = { ...DEFAULT_ELIGIBILITY_OPTIONS, ...options };
  const verdicts = seriesList.map((s) => judge(s, rules, settings));
  const eligible = seriesList.filter((_, i) => verdicts[i]?.eligible).sort(preferred);
  const chosen = eligible[0];
  if (chosen === undefined) return { status: 'not-applicable', reason: notApplicableReason(verdicts), verdicts };
  return { status: 'selected', series: chosen, verdicts };
}
