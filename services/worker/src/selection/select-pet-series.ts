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

/** Preference among eligible series: the most slices (the whole-body reconstruction over a partial one), then the lowest SeriesNumber, then UID. */
function preferred(a: PetSeriesCandidate, b: PetSeriesCandidate): number {
  return sliceCount(b) - sliceCount(a) || (a.header.seriesNumber ?? Infinity) - (b.header.seriesNumber ?? Infinity) ||
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
