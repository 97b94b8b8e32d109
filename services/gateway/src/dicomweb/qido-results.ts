import { DEFAULT_RETURN_KEYWORDS, INDEXED_ATTRIBUTES, type DicomJson, type DicomJsonAttribute, type IndexedAttribute } from '@mipseg/shared/dicom';
import type { QueryLevel, SearchRow } from '@mipseg/shared/store';
import { attribute, Tag } from './dicom-json-builder';
import { instanceUrl, seriesUrl, studyUrl } from './urls';

/** A level above the query level whose attributes a result may carry besides its own. */
export type ParentLevel = 'study' | 'series';

/** The search rows of the results' studies or series, by UID: they hold the counts a result's own row lacks. */
export type ParentRows = Partial<Record<ParentLevel, ReadonlyMap<string, SearchRow>>>;

/** What a result carries beyond its level's required attributes (PS3.18 10.6.3.3). */
export interface ReturnedAttributes {
  /** Tags asked for by includefield or named as matching keys. */
  readonly wanted: ReadonlySet<string>;
  readonly includeAll: boolean;
  /** Levels whose required attributes the target resource adds (All Series: study; All Instances: study and series). */
  readonly parentLevels: readonly ParentLevel[];
}

/** Builds results from search rows, in tag order; `missing` lists the wanted tags the index does not hold. */
export interface ResultBuilder {
  readonly missing: readonly string[];
  readonly build: (row: SearchRow, parents: ParentRows) => DicomJson;
}

export const UID_COLUMN: Record<ParentLevel, string> = { study: 'study_uid', series: 'series_uid' };

const LEVELS_UP_TO: Record<QueryLevel, ReadonlySet<string>> = {
  study: new Set(['patient', 'study']),
  series: new Set(['patient', 'study', 'series']),
  instance: new Set(['patient', 'study', 'series', 'instance']),
};

const DEFAULT_TAGS: Record<QueryLevel, ReadonlySet<string>> = {
  study: tagsOf(DEFAULT_RETURN_KEYWORDS.study),
  series: tagsOf(DEFAULT_RETURN_KEYWORDS.series),
  // Table 10.6.3-5 lists TimezoneOffsetFromUTC for instances too. The index keeps it per study, which its instances share.
  instance: tagsOf([...DEFAULT_RETURN_KEYWORDS.instance, 'TimezoneOffsetFromUTC']),
};

function tagsOf(keywords: readonly string[]): ReadonlySet<string> {
  return new Set(INDEXED_ATTRIBUTES.filter((a) => keywords.includes(a.keyword)).map((a) => a.tag));
}

/** An attribute the index computes (PS3.4 C.3.4) rather than stores, of the level it describes. */
interface ComputedAttribute {
  readonly tag: string;
  readonly level: ParentLevel;
  readonly value: (row: SearchRow) => DicomJsonAttribute;
}

const COMPUTED_ATTRIBUTES: readonly ComputedAttribute[] = [
  { tag: Tag.ModalitiesInStudy, level: 'study', value: (row) => attribute('CS', ...String(row.modalities_in_study ?? '').split('\\')) },
  { tag: Tag.NumberOfStudyRelatedSeries, level: 'study', value: (row) => attribute('IS', row.number_of_study_related_series ?? 0) },
  { tag: Tag.NumberOfStudyRelatedInstances, level: 'study', value: (row) => attribute('IS', row.number_of_study_related_instances ?? 0) },
  { tag: Tag.NumberOfSeriesRelatedInstances, level: 'series', value: (row) => attribute('IS', row.number_of_series_related_instances ?? 0) },
];

/** The level of an attribute the index computes (NumberOfSeriesRelatedInstances: series); undefined for others. */
export function computedAttributeLevel(tag: string): ParentLevel | undefined {
  return COMPUTED_ATTRIBUTES.find((c) => c.tag === tag)?.level;
}

function returnedComputed(level: QueryLevel, returned: ReturnedAttributes): ComputedAttribute[] {
  return COMPUTED_ATTRIBUTES.filter((c) => c.level === level || returned.parentLevels.includes(c.level) || returned.wanted.has(c.tag));
}

/**
 * The levels above `level` whose computed attributes (counts, ModalitiesInStudy) the results carry: a search row
 * holds only its own level's, so the rows of its study or series are looked up (see loadParentRows).
 */
export function parentRowsToLoad(level: QueryLevel, returned: ReturnedAttributes): Set<ParentLevel> {
  return new Set(returnedComputed(level, returned).filter((c) => c.level !== level).map((c) => c.level));
}

function retrieveUrl(level: QueryLevel, row: SearchRow, base: string): string {
  const study = String(row['study_uid']);
  if (level === 'study') return studyUrl(base, study);
  if (level === 'series') return seriesUrl(base, study, String(row['series_uid']));
  return instanceUrl(base, study, String(row['series_uid']), String(row['sop_instance_uid']));
}

function isRequired(a: IndexedAttribute, level: QueryLevel, parentLevels: readonly ParentLevel[]): boolean {
  if (a.keyword === 'StudyInstanceUID' || (level !== 'study' && a.keyword === 'SeriesInstanceUID')) return true;
  return DEFAULT_TAGS[level].has(a.tag) || parentLevels.some((p) => DEFAULT_TAGS[p].has(a.tag));
}

type Producer = readonly [tag: string, value: (row: SearchRow, parents: ParentRows) => DicomJsonAttribute];

/**
 * What a request's results carry, each attribute with how to get it from a row: chosen once per request, in tag
 * order, so that a result needs no sorting (PS3.18 F.2) unless metadata fills it in.
 */
function producers(level: QueryLevel, base: string, returned: ReturnedAttributes): Producer[] {
  const levels = LEVELS_UP_TO[level];
  const indexed = INDEXED_ATTRIBUTES.filter((a) => levels.has(a.level) &&
    (isRequired(a, level, returned.parentLevels) || returned.includeAll || returned.wanted.has(a.tag)));
  const fromRowOf = (c: ComputedAttribute) => (row: SearchRow, parents: ParentRows): DicomJsonAttribute =>
    c.value(c.level === level ? row : parents[c.level]?.get(String(row[UID_COLUMN[c.level]])) ?? {});
  const all: Producer[] = [
    ...indexed.map((a): Producer => [a.tag, (row) => attribute(a.vr, row[a.column] ?? null)]),
    ...returnedComputed(level, returned).map((c): Producer => [c.tag, fromRowOf(c)]),
    [Tag.SpecificCharacterSet, () => attribute('CS', 'ISO_IR 192')],
    [Tag.InstanceAvailability, () => attribute('CS', 'ONLINE')],
    // A parent level's RetrieveURL would have the same tag: the result's own is the one a client follows.
    [Tag.RetrieveURL, (row) => attribute('UR', retrieveUrl(level, row, base))],
  ];
  return all.sort(([a], [b]) => (a < b ? -1 : 1));
}

/**
 * How a request's results are built from index rows: the level's required attributes and those of the parent
 * levels the target resource adds (the row holds their stored columns; `parents` their counts), the matching keys
 * and includefield attributes the index holds, and the computed ones (counts, ModalitiesInStudy, RetrieveURL). The
 * requested tags the index does not hold are returned as `missing`, to be filled from instance metadata.
 */
export function qidoResultBuilder(level: QueryLevel, base: string, returned: ReturnedAttributes): ResultBuilder {
  const chosen = producers(level, base, returned);
  return {
    missing: [...returned.wanted].filter((t) => !chosen.some(([tag]) => tag === t)),
    build: (row, parents) => {
      const json: DicomJson = {};
      for (const [tag, value] of chosen) json[tag] = value(row, parents);
      return json;
    },
  };
}

/** Keys sorted as PS3.18 F.2 asks (ascending tag order). */
export function sortDicomJson(json: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : 1)));
}
