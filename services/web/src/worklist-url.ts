import type { WorklistFilter } from './api.js';

export const FILTER_KEYS = ['patient', 'accession', 'from', 'to', 'state'] as const;

/** What the worklist's URL holds: the filter and the page (its offset). */
export interface WorklistLocation {
  readonly filter: WorklistFilter;
  readonly offset: number;
}

/**
 * `?patient=DOE&offset=50` → the filter and offset it names; unknown keys and a bad offset are left out. A date in
 * DICOM form (`from=20240101`, which the API takes too) is given as the date box shows it (2024-01-01): the box
 * drops any other form, and the list would be filtered by a date the form does not show.
 */
export function parseWorklistSearch(search: string): WorklistLocation {
  const q = new URLSearchParams(search);
  const filter: Record<string, string> = {};
  for (const key of FILTER_KEYS) {
    const v = q.get(key);
    if (v) filter[key] = key === 'from' || key === 'to' ? v.replace(/^(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3') : v;
  }
  return { filter, offset: Math.max(0, Math.trunc(Number(q.get('offset') ?? 0)) || 0) };
}

/** The worklist's path for a filter and offset: `/` when there is neither. */
export function worklistPath(filter: WorklistFilter, offset: number): string {
  const q = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const v = filter[key];
    if (v) q.set(key, v);
  }
  if (offset) q.set('offset', String(offset));
  const search = q.toString();
  return search ? `/?${search}` : '/';
}

const REMEMBERED = 'mipseg.worklistPath';

/** Links marked with this attribute lead back to the worklist and follow its filter and page. */
export const WORKLIST_LINK = 'data-worklist-link';

/**
 * Remembers the worklist's current path for this tab (the study view's "‹ Worklist" and the nav link return to it)
 * and points the links back to the worklist that are on screen at it.
 */
export function rememberWorklistPath(path: string): void {
  try {
    sessionStorage.setItem(REMEMBERED, path);
  } catch {
    // Storage refused (a privacy mode, a full quota): the links still work, they go to the bare worklist.
  }
  for (const a of document.querySelectorAll(`a[${WORKLIST_LINK}]`)) a.setAttribute('href', path);
}

/** The worklist path this tab last showed, or `/`. */
export function worklistHref(): string {
  let path: string | null = null;
  try {
    path = sessionStorage.getItem(REMEMBERED);
  } catch {
    // As above: no storage, the bare worklist.
  }
  // Rebuilt from its filter and offset: whatever else the stored value holds cannot lead elsewhere.
  const { filter, offset } = parseWorklistSearch(path?.split('?')[1] ?? '');
  return worklistPath(filter, offset);
}
