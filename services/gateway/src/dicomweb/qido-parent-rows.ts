import { findIndexedAttribute, type IndexedAttribute } from '@mipseg/shared/dicom';
import type { ArchiveIndex, SearchRow } from '@mipseg/shared/store';
import { UID_COLUMN, type ParentLevel, type ParentRows } from './qido-results';

const UID_ATTRIBUTE: Record<ParentLevel, IndexedAttribute> = {
  study: findIndexedAttribute('StudyInstanceUID') as IndexedAttribute,
  series: findIndexedAttribute('SeriesInstanceUID') as IndexedAttribute,
};

/**
 * The search rows of the studies or series (`levels`) that `rows` belong to, by UID, for results that carry the
 * counts of a level above their own (PS3.18 10.6.3.3): one search per level, the UIDs bound as one list, never a
 * query or a file read per row. A row's stored parent attributes are in the row itself.
 */
export function loadParentRows(index: ArchiveIndex, rows: readonly SearchRow[], levels: ReadonlySet<ParentLevel>): ParentRows {
  const parents: ParentRows = {};
  for (const level of levels) {
    const uids = [...new Set(rows.map((row) => String(row[UID_COLUMN[level]])))];
    if (uids.length === 0) continue;
    const filters = [{ attribute: UID_ATTRIBUTE[level], value: uids.join('\\') }];
    const found = index.search({ level, filters, limit: uids.length, offset: 0 }).rows;
    parents[level] = new Map(found.map((row): [string, SearchRow] => [String(row[UID_COLUMN[level]]), row]));
  }
  return parents;
}
