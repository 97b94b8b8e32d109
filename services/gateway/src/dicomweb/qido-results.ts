import { DEFAULT_RETURN_KEYWORDS, INDEXED_ATTRIBUTES, type DicomJson, type IndexedAttribute } from '@mipseg/shared/dicom';
import type { QueryLevel, SearchRow } from '@mipseg/shared/store';
import { attribute, Tag } from './dicom-json-builder';
import { instanceUrl, seriesUrl, studyUrl } from './urls';

const LEVELS_UP_TO: Record<QueryLevel, ReadonlySet<string>> = {
  study: new Set(['patient', 'study']),
  series: new Set(['patient', 'study', 'series']),
  instance: new Set(['patient', 'study', 'series', 'instance']),
};

const DEFAULT_TAGS: Record<QueryLevel, ReadonlySet<string>> = {
  study: tagsOf(DEFAULT_RETURN_KEYWORDS.study),
  series: tagsOf(DEFAULT_RETURN_KEYWORDS.series),
  instance: tagsOf(DEFAULT_RETURN_KEYWORDS.instance),
};

function tagsOf(keywords: readonly string[]): ReadonlySet<string> {
  return new Set(INDEXED_ATTRIBUTES.filter((a) => keywords.includes(a.keyword)).map((a) => a.tag));
}

function indexedAttribute(a: IndexedAttribute, row: SearchRow): [string, ReturnType<typeof attribute>] {
  return [a.tag, attribute(a.vr, row[a.column] ?? null)];
}

function computedAttributes(level: QueryLevel, row: SearchRow, base: string): DicomJson {
  const study = String(row['study_uid']);
  const out: DicomJson = {
    [Tag.SpecificCharacterSet]: attribute('CS', 'ISO_IR 192'),
    [Tag.InstanceAvailability]: attribute('CS', 'ONLINE'),
  };
  if (level === 'study') {
    out[Tag.ModalitiesInStudy] = attribute('CS', ...String(row.modalities_in_study ?? '').split('\\'));
    out[Tag.NumberOfStudyRelatedSeries] = attribute('IS', row.number_of_study_related_series ?? 0);
    out[Tag.NumberOfStudyRelatedInstances] = attribute('IS', row.number_of_study_related_instances ?? 0);
    out[Tag.RetrieveURL] = attribute('UR', studyUrl(base, study));
  } else if (level === 'series') {
    out[Tag.NumberOfSeriesRelatedInstances] = attribute('IS', row.number_of_series_related_instances ?? 0);
    out[Tag.RetrieveURL] = attribute('UR', seriesUrl(base, study, String(row['series_uid'])));
  } else {
    out[Tag.RetrieveURL] = attribute('UR', instanceUrl(base, study, String(row['series_uid']), String(row['sop_instance_uid'])));
  }
  return out;
}

/**
 * One QIDO result from an index row: the level's required attributes, the matching keys and
 * includefield attributes the index holds, and the computed ones (counts, ModalitiesInStudy, RetrieveURL).
 * Returns also the requested tags the index does not hold, to be filled from instance metadata.
 */
export function rowToDicomJson(level: QueryLevel, row: SearchRow, base: string, wanted: ReadonlySet<string>,
  includeAll: boolean): { json: DicomJson; missing: string[] } {
  const json: DicomJson = {};
  const levels = LEVELS_UP_TO[level];
  for (const a of INDEXED_ATTRIBUTES) {
    if (!levels.has(a.level)) continue;
    const required = DEFAULT_TAGS[level].has(a.tag) || a.keyword === 'StudyInstanceUID' ||
      (level !== 'study' && a.keyword === 'SeriesInstanceUID');
    if (required || includeAll || wanted.has(a.tag)) {
      const [tag, value] = indexedAttribute(a, row);
      json[tag] = value;
    }
  }
  Object.assign(json, computedAttributes(level, row, base));
  const missing = [...wanted].filter((t) => !(t in json));
  return { json, missing };
}

/** Keys sorted as PS3.18 F.2 asks (ascending tag order). */
export function sortDicomJson(json: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : 1)));
}
