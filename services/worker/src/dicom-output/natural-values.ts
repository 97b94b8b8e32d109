import type { DicomItem } from './source-series-context';

/** Reads dcmjs-naturalised values into plain strings and numbers (a library boundary: values are unknown). */

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** PN as its PS3.5 string form (component groups joined by '='); dcmjs gives `{Alphabetic, …}` objects. */
function personName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return '';
  const pn = value as { Alphabetic?: unknown; Ideographic?: unknown; Phonetic?: unknown };
  const groups = [pn.Alphabetic, pn.Ideographic, pn.Phonetic].map((g) => (typeof g === 'string' ? g : ''));
  return groups.join('=').replace(/=+$/, '');
}

/** The first value as text ('' when absent); numbers are given back in their decimal form. */
export function textOf(item: DicomItem, keyword: string): string {
  const value = first(item[keyword]);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value.replace(/\0/g, '').trim();
  return personName(value).trim();
}

/** Every value as text (multi-valued CS such as ImageType or CorrectedImage). */
export function textsOf(item: DicomItem, keyword: string): string[] {
  const value = item[keyword];
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return values.map((v) => (typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '')).filter((v) => v !== '');
}

export function numberOf(item: DicomItem, keyword: string): number | null {
  const value = first(item[keyword]);
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}

export function itemsOf(item: DicomItem, keyword: string): DicomItem[] {
  const value = item[keyword];
  return Array.isArray(value) ? value.filter((v): v is DicomItem => typeof v === 'object' && v !== null) : [];
}
