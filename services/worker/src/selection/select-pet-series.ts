import {
  DEFAULT_ELIGIBILITY_OPTIONS,
  SERIES_ELIGIBILITY_RULES,
  coverageMm,
  sliceCount,
  volumeSliceCount,
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
  /** SeriesNumber and SeriesDescription where the header was read: how the reason names the series (seriesName). */
  readonly seriesNumber?: number | null;
  readonly seriesDescription?: string | null;
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
  const { seriesInstanceUid, seriesNumber, seriesDescription } = series.header;
  return { seriesInstanceUid, seriesNumber, seriesDescription, eligible: failures.length === 0, failures };
}

/** Coverages this close count as the same (two reconstructions of one whole-body scan differ by a slice or two). */
const COVERAGE_TOLERANCE_MM = 20;

/** The most slices, then the lowest SeriesNumber, then UID: a total order, so the input's order never decides. */
function bySlices(a: PetSeriesCandidate, b: PetSeriesCandidate): number {
  return sliceCount(b) - sliceCount(a) || (a.header.seriesNumber ?? Infinity) - (b.header.seriesNumber ?? Infinity) ||
    a.header.seriesInstanceUid.localeCompare(b.header.seriesInstanceUid);
}

/** More slices than NumberOfSlices: duplicates or two reconstructions, which the volume assembler will refuse. */
const overfull = (series: PetSeriesCandidate): boolean => sliceCount(series) > volumeSliceCount(series);

/** Series whose SUV can be computed first (see PetSeriesCandidate.suvReady), then those not overfull, then bySlices. */
function bySuvThenSlices(a: PetSeriesCandidate, b: PetSeriesCandidate): number {
  return Number(b.suvReady ?? true) - Number(a.suvReady ?? true) || Number(overfull(a)) - Number(overfull(b)) || bySlices(a, b);
}

/**
 * The series to analyse among eligible ones: of those whose spacing is known, the ones within COVERAGE_TOLERANCE_MM of
 * the longest axial coverage (the whole-body reconstruction, not a partial or a high-resolution head-and-neck one,
 * which can hold more, thinner slices); among those, one whose SUV can be computed, then the most slices. A series
 * without a spacing is chosen only where no series has one.
 */
function preferred(eligible: readonly PetSeriesCandidate[]): PetSeriesCandidate | undefined {
  // Counting at most NumberOfSlices: a doubled series does not win on the instances it holds twice.
  const coverage = (s: PetSeriesCandidate): number | null => coverageMm(s, volumeSliceCount(s));
  const known = eligible.filter((s) => coverage(s) !== null);
  const longest = Math.max(...known.map((s) => coverage(s) as number));
  const pool = known.length > 0 ? known.filter((s) => (coverage(s) as number) >= longest - COVERAGE_TOLERANCE_MM) : [...eligible];
  return pool.sort(bySuvThenSlices)[0];
}

/** SeriesDescription is LO, at most 64 characters; a crafted file's may be longer, and is cut there. */
const MAX_DESCRIPTION_CHARS = 64;

/**
 * 'PET WB AC': a description that cannot leave its quotes, nor read as the reason's separators (": " after a quote,
 * " | " between series). Its quote, backslash and "|" are escaped with a backslash; control and line-breaking
 * characters become spaces. Null where nothing is left to quote.
 */
function quotedDescription(raw: string): string | null {
  // eslint-disable-next-line no-control-regex -- the control characters are what is replaced
  const chars = Array.from(raw.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim());
  if (chars.length === 0) return null;
  const cut = chars.length > MAX_DESCRIPTION_CHARS ? `${chars.slice(0, MAX_DESCRIPTION_CHARS).join('').trimEnd()}…` : chars.join('');
  return `'${cut.replace(/[\\'|]/g, (c) => `\\${c}`)}'`;
}

/**
 * A series as a reader knows it, by its number and description as the viewer and the worklist's Series card list them
 * ("Series 3 'PET WB AC'"); its 64-digit UID only where the header gave neither (a header that could not be read).
 */
function seriesName(v: SeriesVerdict): string {
  const description = v.seriesDescription ? quotedDescription(v.seriesDescription) : null;
  const parts = [v.seriesNumber ?? null, description].filter((p) => p !== null);
  return parts.length > 0 ? `Series ${parts.join(' ')}` : `Series ${v.seriesInstanceUid}`;
}

/**
 * The reason stored with the job and shown on the worklist: every series and the rules it failed. Two series that
 * would read the same (one number and description) are told apart by their UIDs.
 */
function notApplicableReason(verdicts: readonly SeriesVerdict[]): string {
  if (verdicts.length === 0) return 'the study has no series';
  const names = verdicts.map(seriesName);
  const twice = (name: string): boolean => names.indexOf(name) !== names.lastIndexOf(name);
  return verdicts.map((v) => {
    const name = seriesName(v);
    return `${twice(name) ? `${name} (${v.seriesInstanceUid})` : name}: ${v.failures.map((f) => f.reason).join('; ')}`;
  }).join(' | ');
}

/**
 * Chooses the PET series of a study to segment, by SERIES_ELIGIBILITY_RULES. Returns the chosen series, or
 * 'not-applicable' with every series' failed rules; every verdict is kept for the audit trail either way.
 * `unreadable` are the verdicts on series whose header could not be read: they count among the study's series, so
 * that a study left with nothing to choose says why, rather than that it has no series.
 */
export function selectPetSeries(
  seriesList: readonly PetSeriesCandidate[],
  options: Partial<EligibilityOptions> = {},
  rules: readonly EligibilityRule[] = SERIES_ELIGIBILITY_RULES,
  unreadable: readonly SeriesVerdict[] = [],
): PetSeriesSelection {
  const settings = { ...DEFAULT_ELIGIBILITY_OPTIONS, ...options };
  const judged = seriesList.map((s) => judge(s, rules, settings));
  const chosen = preferred(seriesList.filter((_, i) => judged[i]?.eligible));
  const verdicts = [...judged, ...unreadable];
  if (chosen === undefined) return { status: 'not-applicable', reason: notApplicableReason(verdicts), verdicts };
  return { status: 'selected', series: chosen, verdicts };
}
