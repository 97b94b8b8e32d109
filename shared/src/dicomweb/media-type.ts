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

/** Parses an Accept header into its entries as the client wrote them, q=0 ones (which exclude what they name) included. */
export function parseAccept(header: string | undefined): AcceptEntry[] {
  if (!header || header.trim() === '') return [{ type: '*/*', params: {}, q: 1 }];
  return splitOutsideQuotes(header, ',')
    .map((part) => {
      const mt = parseMediaType(part);
      const q = mt.params['q'] === undefined ? 1 : Number(mt.params['q']);
      return { ...mt, q };
    })
    // A q that is not a number is no exclusion (q=0 is): such an entry is left out, as before q=0 counted.
    .filter((e) => e.type !== '' && Number.isFinite(e.q));
}

/** How specifically a media range names `type`: 2 exactly, 1 as `type/*`, 0 as `*\/*`; -1 when it does not match. */
function specificity(range: string, type: string): number {
  if (range === type) return 2;
  if (range.endsWith('/*') && range !== '*/*' && type.startsWith(range.slice(0, -1))) return 1;
  return range === '*/*' ? 0 : -1;
}

/**
 * The entry that sets an offer's quality (RFC 9110 12.5.1): the most specific range that names it and that `check`
 * accepts, the highest q among equally specific ones. Undefined when none does.
 */
function entryFor<T extends string>(entries: readonly AcceptEntry[], offer: T, check: (entry: AcceptEntry, offer: T) => boolean): AcceptEntry | undefined {
  let best: { entry: AcceptEntry; specificity: number } | undefined;
  for (const entry of entries) {
    const s = specificity(entry.type, offer);
    if (s < 0 || !check(entry, offer)) continue;
    if (!best || s > best.specificity || (s === best.specificity && entry.q > best.entry.q)) best = { entry, specificity: s };
  }
  return best?.entry;
}

/**
 * Chooses what to send: the offer of the highest quality to the client, each offer's quality being the q of the most
 * specific range naming it (`image/*, image/png;q=0.1` prefers any other image to PNG; `image/png;q=0` refuses PNG);
 * the server's order of preference breaks ties. `check` can veto an entry (e.g. a transfer-syntax we cannot produce).
 * Throws MIPSEG_NOT_ACCEPTABLE (406) when nothing fits.
 */
export function negotiate<T extends string>(
  accept: string | undefined,
  offers: readonly T[],
  check: (entry: AcceptEntry, offer: T) => boolean = () => true,
): { offer: T; entry: AcceptEntry } {
  const entries = parseAccept(accept);
  let chosen: { offer: T; entry: AcceptEntry } | undefined;
  for (const offer of offers) {
    const entry = entryFor(entries, offer, check);
    if (entry && entry.q > 0 && (!chosen || entry.q > chosen.entry.q)) chosen = { offer, entry };
  }
  if (!chosen) throw new MipsegError('MIPSEG_NOT_ACCEPTABLE', accept ?? '');
  return chosen;
}

/** WADO multipart requests name the part type in `type=`; a bare multipart/related means application/dicom. */
export function multipartPartType(entry: AcceptEntry, fallback: string): string {
  return entry.type === 'multipart/related' ? (entry.params['type'] ?? fallback).toLowerCase() : fallback;
}
