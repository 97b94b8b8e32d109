import { MipsegError } from '../errors';
import type { IndexedAttribute, Level } from '../dicom/attributes';
import { withoutEmptyTrailingComponents } from '../dicom/parse-header';
import { normaliseTime } from './schema';

export type QueryLevel = 'study' | 'series' | 'instance';

export interface AttributeFilter {
  readonly attribute: IndexedAttribute;
  readonly value: string;
  /**
   * A text attribute's wildcard pattern matched in any case (ASCII), as a search box is. QIDO matching of text is
   * case-sensitive (PS3.4 C.2.2.2.4); the worklist's boxes are not QIDO.
   */
  readonly anyCase?: boolean;
}

/** A QIDO search, already parsed and validated. ModalitiesInStudy is carried separately (computed). */
export interface SearchQuery {
  readonly level: QueryLevel;
  /** All must match. */
  readonly filters: readonly AttributeFilter[];
  /** Each of these lists must have a group of filters that all match (the worklist's patient box: an ID or a name). */
  readonly anyOf?: ReadonlyArray<ReadonlyArray<readonly AttributeFilter[]>>;
  readonly modalitiesInStudy?: readonly string[];
  readonly limit: number;
  readonly offset: number;
}

export interface SqlFragment {
  readonly sql: string;
  readonly params: unknown[];
}

const LEVEL_ORDER: Record<Level, number> = { patient: 0, study: 1, series: 2, instance: 3 };
const QUERY_LEVEL_ORDER: Record<QueryLevel, number> = { study: 1, series: 2, instance: 3 };

export function isMatchableAt(attribute: IndexedAttribute, level: QueryLevel): boolean {
  return LEVEL_ORDER[attribute.level] <= QUERY_LEVEL_ORDER[level];
}

const TABLE_ALIAS: Record<Level, string> = { patient: 'p', study: 's', series: 'se', instance: 'i' };
const TIME_COLUMNS = new Set(['study_time', 'series_time', 'pps_start_time']);

function column(attr: IndexedAttribute): string {
  return `${TABLE_ALIAS[attr.level]}.${attr.column}`;
}

function hasWildcard(value: string): boolean {
  return /[*?]/.test(value);
}

/** DICOM wildcards to SQLite GLOB (case-sensitive), escaping GLOB's own '[' metacharacter. */
function toGlob(value: string): string {
  return value.replace(/\[/g, '[[]');
}

/** A literal for LIKE … ESCAPE '\\': LIKE's own metacharacters escaped. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** DICOM wildcards to LIKE (case-insensitive, for person names), escaping LIKE's own metacharacters. */
function toLike(value: string): string {
  return escapeLike(value).replace(/\*/g, '%').replace(/\?/g, '_');
}

/** True for a value of asterisks only, which matches every entity, those without a value included. */
export function matchesAll(value: string): boolean {
  return /^\**$/.test(value);
}

/**
 * A range (PS3.4 C.2.2.2.5): from-to, from-, -to. A date range's first date must not be later than its second; a time
 * range whose first time is later than its second crosses midnight (23:00-01:00), as PS3.4 has it and dcm4chee reads it.
 */
function rangeFragment(col: string, value: string, normalise: (v: string, end: boolean) => string, crossesMidnight = false): SqlFragment {
  const bounds = value.split('-');
  if (bounds.length !== 2) throw new MipsegError('MIPSEG_BAD_QUERY', `range "${value}" (expected from-to, from- or -to)`);
  const [from = '', to = ''] = bounds;
  if (!from && !to) throw new MipsegError('MIPSEG_BAD_QUERY', `empty range "${value}"`);
  const low = from ? normalise(from, false) : undefined;
  const high = to ? normalise(to, true) : undefined;
  if (low !== undefined && high !== undefined && low > high) {
    if (!crossesMidnight) throw new MipsegError('MIPSEG_BAD_QUERY', `range "${value}" ends before it begins`);
    return { sql: `(${col} >= ? OR ${col} <= ?)`, params: [low, high] };
  }
  const parts: string[] = [];
  const params: unknown[] = [];
  if (low !== undefined) {
    parts.push(`${col} >= ?`);
    params.push(low);
  }
  if (high !== undefined) {
    parts.push(`${col} <= ?`);
    params.push(high);
  }
  return { sql: parts.join(' AND '), params };
}

const DATE = /^\d{8}$/;
const TIME = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;

function normaliseDateBound(v: string): string {
  const d = v.replace(/[.-]/g, '');
  if (!DATE.test(d)) throw new MipsegError('MIPSEG_BAD_QUERY', `date "${v}" (expected YYYYMMDD)`);
  return d;
}

function normaliseTimeBound(v: string, end: boolean): string {
  const t = v.replace(/:/g, '');
  if (!TIME.test(t)) throw new MipsegError('MIPSEG_BAD_QUERY', `time "${v}" (expected HHMMSS.FFFFFF)`);
  if (!end) return normaliseTime(t) ?? '';
  // An end bound "12" means up to 12:59:59.999999: pad the missing precision with nines.
  const [whole = '', frac = ''] = t.split('.');
  const wholeEnd = whole + '995959'.slice(whole.length);
  return `${wholeEnd}.${frac.padEnd(6, '9')}`;
}

/**
 * A UID list (PS3.4 C.2.2.2.2) as one JSON parameter: a list of any length binds one variable (SQLite allows
 * 32,766) and compiles to one statement whatever its length. A single UID keeps the plain equality.
 */
function uidListFragment(col: string, value: string): SqlFragment {
  if (hasWildcard(value)) throw new MipsegError('MIPSEG_BAD_QUERY', `UID "${value.slice(0, 70)}": UIDs match as a list, without wildcards`);
  const uids = value.split(/[,\\]/).map((u) => u.trim()).filter(Boolean);
  if (uids.length === 1) return { sql: `${col} = ?`, params: uids };
  return { sql: `${col} IN (SELECT value FROM json_each(?))`, params: [JSON.stringify(uids)] };
}

/**
 * Person names match in any case, in any script: SQLite's NOCASE and LIKE fold ASCII letters only, so 'müller' did
 * not find 'MÜLLER'. The index registers FOLD_FUNCTION (Unicode lower case); wildcards and escapes are unchanged by it.
 */
export const FOLD_FUNCTION = 'mipseg_fold';

export function foldCase(value: unknown): unknown {
  return typeof value === 'string' ? value.normalize('NFC').toLowerCase() : value;
}

/**
 * The column as compared with `value`: through FOLD_FUNCTION only when the value has a letter outside ASCII. An
 * ASCII value finds the same rows with SQLite's own folding, which is ten times faster than a JavaScript call per row.
 */
function folded(col: string, value: string): { col: string; param: string } {
  // eslint-disable-next-line no-control-regex -- the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(value) ? { col, param: '?' } : { col: `${FOLD_FUNCTION}(${col})`, param: `${FOLD_FUNCTION}(?)` };
}

/**
 * A person name without wildcards matches the whole stored value or, where the stored name also has ideographic
 * or phonetic groups (`Yamada^Tarou=山田^太郎`), its alphabetic group: what a user types is the alphabetic name.
 */
function personNameFragment(col: string, raw: string): SqlFragment {
  const value = withoutEmptyTrailingComponents(raw); // as the index stores names (older rows are rewritten at start-up)
  const f = folded(col, value);
  return { sql: `(${f.col} = ${f.param} COLLATE NOCASE OR ${f.col} LIKE ${f.param} ESCAPE '\\')`, params: [value, `${escapeLike(value)}=%`] };
}

/**
 * A person name with wildcards: LIKE over the whole stored value or, where it has ideographic or phonetic groups, over
 * its alphabetic group alone, in any case: `*Tarou` finds `Yamada^Tarou=山田^太郎`.
 */
function personNamePatternFragment(col: string, value: string): SqlFragment {
  const alphabetic = `CASE WHEN instr(${col}, '=') > 0 THEN substr(${col}, 1, instr(${col}, '=') - 1) END`;
  const f = folded(col, value);
  const g = folded(alphabetic, value);
  return { sql: `(${f.col} LIKE ${f.param} ESCAPE '\\' OR ${g.col} LIKE ${g.param} ESCAPE '\\')`, params: [toLike(value), toLike(value)] };
}

/**
 * ModalitiesInStudy (a list of CS values, any of which a study's series may have): each value matched as the
 * index matches text elsewhere, `*` and `?` as GLOB wildcards, case-sensitive; one JSON parameter for the list.
 * Undefined when a value is all asterisks, which matches every study.
 */
export function modalitiesInStudyFragment(modalities: readonly string[]): SqlFragment | undefined {
  if (modalities.length === 0 || modalities.some(matchesAll)) return undefined;
  return {
    sql: `EXISTS (SELECT 1 FROM series m, json_each(?) q WHERE m.study_uid = s.study_uid AND m.modality GLOB q.value)`,
    params: [JSON.stringify(modalities.map(toGlob))],
  };
}

/** The name of each value in anyValueFragment's list of a multi-valued column's values. */
const EACH_VALUE = 'mv.value';

/**
 * A filter on a person name column that holds several values (`Ref^One\Ref^Two`): PS3.4 C.2.2.3 has an attribute
 * of more than one value match when any one of them matches, so the values are listed (a recursive split at `\`) and
 * `each` is matched against every one of them; a `*` must not match across values. A column of one value is matched
 * whole by `whole`, as before.
 */
function anyValueFragment(col: string, whole: SqlFragment, each: SqlFragment): SqlFragment {
  const values = `WITH RECURSIVE mv(value, rest) AS (SELECT NULL, ${col} || '\\' UNION ALL `
    + `SELECT substr(rest, 1, instr(rest, '\\') - 1), substr(rest, instr(rest, '\\') + 1) FROM mv WHERE rest <> '')`;
  return {
    sql: `((instr(${col}, '\\') = 0 AND ${whole.sql}) OR (instr(${col}, '\\') > 0 AND EXISTS (${values} `
      + `SELECT 1 FROM mv WHERE ${EACH_VALUE} IS NOT NULL AND ${each.sql})))`,
    params: [...whole.params, ...each.params],
  };
}

/** A text or person name filter matched against the SQL expression `col` (a column, or one of its values). */
function textFragment(filter: AttributeFilter, col: string): SqlFragment {
  const { value } = filter;
  if (filter.attribute.kind === 'pn') return hasWildcard(value) ? personNamePatternFragment(col, value) : personNameFragment(col, value);
  if (filter.anyCase) return { sql: `${col} LIKE ? ESCAPE '\\'`, params: [toLike(value)] };
  return hasWildcard(value) ? { sql: `${col} GLOB ?`, params: [toGlob(value)] } : { sql: `${col} = ?`, params: [value] };
}

/** One filter as SQL (PS3.4 C.2.2.2: single value, wildcard, UID list, range). */
export function filterFragment(filter: AttributeFilter): SqlFragment {
  const { attribute: attr, value } = filter;
  const col = column(attr);
  switch (attr.kind) {
    case 'uid':
      return uidListFragment(col, value);
    case 'date':
      if (value.includes('-')) return rangeFragment(col, value, (v) => normaliseDateBound(v));
      return { sql: `${col} = ?`, params: [normaliseDateBound(value)] };
    case 'time': {
      const ncol = TIME_COLUMNS.has(attr.column) ? `${col}_n` : col;
      if (value.includes('-')) return rangeFragment(ncol, value, normaliseTimeBound, true);
      return { sql: `${ncol} = ?`, params: [normaliseTimeBound(value, false)] };
    }
    case 'number': {
      // IS and US values (PS3.5 6.2): digits with an optional sign, not what Number() also reads (0x10, 1e2, " ").
      const n = /^\s*[+-]?\d{1,15}\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) throw new MipsegError('MIPSEG_BAD_QUERY', `${attr.keyword}="${value.slice(0, 70)}" is not an integer`);
      return { sql: `${col} = ?`, params: [n] };
    }
    case 'pn':
      // A key of several values asks for Multiple Value Matching (PS3.4 C.2.2.2.8), not negotiated: matched whole.
      if (value.includes('\\')) return textFragment(filter, col);
      return anyValueFragment(col, textFragment(filter, col), textFragment(filter, EACH_VALUE));
    case 'text':
      // Matched whole: these are VM 1 in PS3.6, and the split would cost PatientID, AccessionNumber and Modality
      // their index lookups (an OR with a term no index serves makes SQLite scan the table).
      return textFragment(filter, col);
  }
}

/** Filters that must all match, as one fragment; undefined when none restricts anything. */
function allOfFragment(filters: readonly AttributeFilter[]): SqlFragment | undefined {
  const fragments = filters.filter((f) => !matchesAll(f.value)).map(filterFragment);
  if (fragments.length === 0) return undefined;
  return { sql: `(${fragments.map((f) => f.sql).join(' AND ')})`, params: fragments.flatMap((f) => f.params) };
}

/** Groups of filters one of which must match whole; undefined when one group restricts nothing (it matches all). */
export function anyOfFragment(groups: ReadonlyArray<readonly AttributeFilter[]>): SqlFragment | undefined {
  const fragments: SqlFragment[] = [];
  for (const group of groups) {
    const all = allOfFragment(group);
    if (!all) return undefined;
    fragments.push(all);
  }
  if (fragments.length === 0) return { sql: '0', params: [] };
  return { sql: `(${fragments.map((f) => f.sql).join(' OR ')})`, params: fragments.flatMap((f) => f.params) };
}
