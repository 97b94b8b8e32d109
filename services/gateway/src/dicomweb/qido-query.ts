import type { Config } from '@mipseg/shared/config';
import { assertUid, findIndexedAttribute, type IndexedAttribute, type Level } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { isMatchableAt, type AttributeFilter, type QueryLevel, type SearchQuery } from '@mipseg/shared/store';
import * as dcmjs from 'dcmjs';
import { computedAttributeLevel, type ParentLevel } from './qido-results';

/** A QIDO request after parsing: the search, what to return, and warnings for the Warning header. */
export interface QidoRequest {
  readonly search: SearchQuery;
  readonly includeAll: boolean;
  /** Tags (8-hex) asked for by includefield. */
  readonly includeTags: readonly string[];
  /** Tags of the matching keys, which results must echo. */
  readonly matchTags: readonly string[];
  /** Levels above the query level whose required attributes the target resource adds (see parentLevelsOf). */
  readonly parentLevels: readonly ParentLevel[];
  readonly warnings: readonly string[];
}

const RESERVED = new Set(['limit', 'offset', 'includefield', 'fuzzymatching']);
const TAG_RE = /^[0-9A-Fa-f]{8}$/;

/** Resolves a keyword or tag to its 8-hex tag; undefined when it is neither. */
export function toTag(key: string): string | undefined {
  if (TAG_RE.test(key)) return key.toUpperCase();
  // Own keys only: `constructor`, `__proto__` or `toString` would otherwise find Object.prototype's members.
  const { nameMap } = dcmjs.data.DicomMetaDictionary;
  const entry = Object.hasOwn(nameMap, key) ? nameMap[key] : undefined;
  return entry ? entry.tag.replace(/[(),]/g, '').toUpperCase() : undefined;
}

/**
 * A path into a sequence (`00081115.0020000E`, PS3.18 8.3.4): mipseg neither matches on nor returns attributes
 * inside sequences, so it ignores such a key with a Warning, as it does other keys it cannot match on, rather than
 * refusing a query that standard clients (e.g. a viewer asking for ReferencedSeriesSequence) send.
 */
function isSequencePath(key: string): boolean {
  const parts = key.split('.');
  return parts.length > 1 && parts.every((p) => toTag(p) !== undefined);
}

/**
 * A key of a UID attribute (StudyInstanceUID, SOPClassUID, …): PS3.18 8.3.4 lets it be repeated, each value then one
 * element of a UID list (PS3.4 C.2.2.2.2), as the index matches a comma or backslash separated list.
 */
function allowsUidList(key: string): boolean {
  const tag = toTag(key);
  return tag !== undefined && findIndexedAttribute(tag)?.kind === 'uid';
}

function single(value: unknown, key: string): string {
  if (Array.isArray(value)) {
    if (key === 'includefield') return value.join(',');
    // Empty values left out: a key given empty every time is still universal matching.
    if (allowsUidList(key)) return value.filter(Boolean).join(',');
    throw new MipsegError('MIPSEG_BAD_QUERY', `${key} given more than once`);
  }
  if (typeof value !== 'string') throw new MipsegError('MIPSEG_BAD_QUERY', `${key} is not a plain value`);
  return value;
}

/**
 * A query parameter that is no DICOM keyword or tag, nor one QIDO-RS defines (a cache buster `_=…`, a parameter of a
 * later edition): PS3.18 8.3 has the origin server ignore it and answer as if it were absent, with a Warning.
 */
function isUnsupportedParameter(key: string): boolean {
  return key !== 'includefield' && !RESERVED.has(key) && !isSequencePath(key) && toTag(key) === undefined;
}

/** Safe integers only: SQLite cannot bind a larger one (`offset=1e20`) as an integer and would throw. */
/**
 * An empty value is read as absent (as an empty matching key is universal): `limit=` read as 0 answered nothing, with
 * a Warning to page on. Digits only: Number() would also take ' 5', 0x5 and 5.0.
 */
function nonNegativeInt(raw: string | undefined, key: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `${key}=${raw} (an integer from 0 to ${Number.MAX_SAFE_INTEGER})`);
  }
  return n;
}

/** TimezoneOffsetFromUTC: in a query, the zone of its dates and times rather than a matching key. */
const TIMEZONE_OFFSET_FROM_UTC = '00080201';

export interface PathScope {
  readonly study?: string;
  readonly series?: string;
}

function pathFilters(scope: PathScope): AttributeFilter[] {
  const out: AttributeFilter[] = [];
  const add = (keyword: string, uid: string | undefined) => {
    if (uid === undefined) return;
    out.push({ attribute: findIndexedAttribute(keyword) as IndexedAttribute, value: assertUid(uid, keyword) });
  };
  add('StudyInstanceUID', scope.study);
  add('SeriesInstanceUID', scope.series);
  return out;
}

const LEVEL_ORDER: Record<Level, number> = { patient: 0, study: 1, series: 2, instance: 3 };

/**
 * The level of an attribute that lies below `level` (series for Modality at study level), where mipseg knows its
 * level: PS3.18 10.6.3.3 has a search not return such an attribute named in includefield (a study has no one
 * Modality to return). Undefined otherwise; attributes neither indexed nor computed are answered from an instance.
 */
function lowerLevelOf(tag: string, level: QueryLevel): Level | undefined {
  const own = findIndexedAttribute(tag)?.level ?? computedAttributeLevel(tag);
  return own !== undefined && LEVEL_ORDER[own] > LEVEL_ORDER[level] ? own : undefined;
}

/** Adds includefield's tags to `tags`; true when it asks for `all`. */
function parseIncludeFields(value: string, level: QueryLevel, tags: string[], warnings: string[]): boolean {
  let all = false;
  for (const field of value.split(',').map((f) => f.trim()).filter(Boolean)) {
    if (field === 'all') all = true;
    else if (isSequencePath(field)) warnings.push(`includefield=${field} names an attribute in a sequence, not supported; ignored`);
    else {
      const tag = toTag(field);
      if (!tag) throw new MipsegError('MIPSEG_BAD_QUERY', `includefield=${field} is not a keyword or tag`);
      const lower = lowerLevelOf(tag, level);
      if (lower) warnings.push(`includefield=${field}: ${lower}-level attribute, not returned by a ${level}-level search (PS3.18 10.6.3.3)`);
      else tags.push(tag);
    }
  }
  return all;
}

/**
 * PS3.18 10.6.3.3: All Series results carry the study's required attributes; All Instances the study's and the
 * series'; Study's Instances the series'. Where the path names the study (or series), the client knows them already.
 */
function parentLevelsOf(level: QueryLevel, scope: PathScope): ParentLevel[] {
  if (level === 'series') return scope.study === undefined ? ['study'] : [];
  if (level === 'instance' && scope.study === undefined) return ['study', 'series'];
  if (level === 'instance' && scope.series === undefined) return ['series'];
  return [];
}

/** Parses QIDO-RS query parameters (PS3.18 §8.3.4) for a search at `level` within the path's scope. */
export function parseQidoRequest(level: QueryLevel, query: Record<string, unknown>, scope: PathScope, config: Config): QidoRequest {
  const filters = pathFilters(scope);
  const matchTags: string[] = [];
  const warnings: string[] = [];
  let modalitiesInStudy: string[] | undefined;
  const includeTags: string[] = [];
  let includeAll = false;
  for (const [key, rawValue] of Object.entries(query)) {
    if (isUnsupportedParameter(key)) {
      warnings.push(`${key.slice(0, 64)} is neither a DICOM keyword or tag nor a QIDO-RS parameter; ignored (PS3.18 8.3)`);
      continue;
    }
    const value = single(rawValue, key);
    if (key === 'includefield') {
      includeAll = parseIncludeFields(value, level, includeTags, warnings) || includeAll;
      continue;
    }
    if (RESERVED.has(key)) continue;
    if (isSequencePath(key)) {
      warnings.push(`matching on ${key}, an attribute in a sequence, is not supported and was ignored`);
      continue;
    }
    const tag = toTag(key);
    if (!tag) continue; // warned of above, as an unsupported parameter
    if (tag === TIMEZONE_OFFSET_FROM_UTC) {
      warnings.push(`${key} gives the zone of a query's dates and times (PS3.4 C.2.2.2.5), not a value to match; `
        + 'mipseg matches dates and times as stored and ignored it');
      continue;
    }
    if (tag === '00080061' && level === 'study') {
      modalitiesInStudy = value.split(/[,\\]/).map((m) => m.trim()).filter(Boolean);
      matchTags.push(tag);
      continue;
    }
    const attribute = findIndexedAttribute(tag);
    if (!attribute || !isMatchableAt(attribute, level)) {
      warnings.push(`matching on ${key} is not supported at ${level} level and was ignored`);
      continue;
    }
    filters.push({ attribute, value });
    matchTags.push(tag);
  }
  if (query['fuzzymatching'] === 'true') warnings.push('fuzzymatching is not supported; exact matching was used');
  const requested = nonNegativeInt(query['limit'] as string | undefined, 'limit', config.qidoMaxResults);
  const limit = Math.min(requested, config.qidoMaxResults);
  if (requested > config.qidoMaxResults) warnings.push(`limit capped at QIDO_MAX_RESULTS=${config.qidoMaxResults}`);
  const offset = nonNegativeInt(query['offset'] as string | undefined, 'offset', 0);
  const search: SearchQuery = { level, filters, limit, offset, ...(modalitiesInStudy ? { modalitiesInStudy } : {}) };
  return { search, includeAll, includeTags, matchTags, parentLevels: parentLevelsOf(level, scope), warnings };
}
