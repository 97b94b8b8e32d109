import { MipsegError } from '../errors';

/** A parsed media type: `multipart/related; type="application/dicom"; boundary=x` → type + params. */
export interface MediaType {
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

/** Splits on `sep` outside double quotes (boundaries and type parameters may be quoted). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

export function parseMediaType(header: string): MediaType {
  const [type = '', ...rest] = splitOutsideQuotes(header, ';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = unquote(p.slice(eq + 1));
  }
  return { type: type.trim().toLowerCase(), params };
}

export interface AcceptEntry extends MediaType {
  readonly q: number;
}

/** Parses an Accept header into entries sorted by q-value (highest first); q=0 entries are dropped. */
export function parseAccept(header: string | undefined): AcceptEntry[] {
  if (!header || header.trim() === '') return [{ type: '*/*', params: {}, q: 1 }];
  return splitOutsideQuotes(header, ',')
    .map((part) => {
      const mt = parseMediaType(part);
      const q = mt.params['q'] === undefined ? 1 : Number(mt.params['q']);
      return { ...mt, q: Number.isFinite(q) ? q : 0 };
    })
    .filter((e) => e.q > 0 && e.type !== '')
    .sort((a, b) => b.q - a.q);
}

function typeMatches(pattern: string, type: string): boolean {
  if (pattern === '*/*' || pattern === type) return true;
  return pattern.endsWith('/*') && type.startsWith(pattern.slice(0, -1));
}

/**
 * Chooses what to send: the first offer (in the server's order of preference) acceptable to the client's
 * highest-q entries. `check` can veto an entry (e.g. a transfer-syntax we cannot produce).
 * Throws MIPSEG_NOT_ACCEPTABLE (406) when nothing fits.
 */
export function negotiate<T extends string>(
  accept: string | undefined,
  offers: readonly T[],
  check: (entry: AcceptEntry, offer: T) => boolean = () => true,
): { offer: T; entry: AcceptEntry } {
  const entries = parseAccept(accept);
  for (const entry of entries) {
    for (const offer of offers) {
      if (typeMatches(entry.type, offer) && check(entry, offer)) return { offer, entry };
    }
  }
  throw new MipsegError('MIPSEG_NOT_ACCEPTABLE', accept ?? '');
}

/** WADO multipart requests name the part type in `type=`; a bare multipart/related means application/dicom. */
export function multipartPartType(entry: AcceptEntry, fallback: string): string {
  return entry.type === 'multipart/related' ? (entry.params['type'] ?? fallback).toLowerCase() : fallback;
}
