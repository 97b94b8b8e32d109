import type { DicomItem } from './source-series-context';

/** A coded concept (PS3.3 Table 8.8-1 basic code attributes). */
export interface CodedConcept {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

export function codeItem(code: CodedConcept): DicomItem {
  return { CodeValue: code.value, CodingSchemeDesignator: code.scheme, CodeMeaning: code.meaning };
}

const DS_MAX_LENGTH = 16;

/**
 * A Decimal String value (PS3.5 6.2: at most 16 characters) holding as many significant digits as fit.
 * dcmjs would truncate a longer value silently, so every DS mipseg writes goes through here.
 */
export function formatDs(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`DS value ${value}`);
  for (let digits = 15; digits >= 1; digits--) {
    const text = String(Number(value.toPrecision(digits)));
    if (text.length <= DS_MAX_LENGTH) return text === '-0' ? '0' : text;
  }
  // JavaScript writes plain digits up to 1e21: a larger or tinier value fits only with an exponent, which DS allows.
  for (let digits = 15; digits >= 1; digits--) {
    const text = value.toExponential(digits - 1).replace(/\.?0+e/, 'e').replace('e+', 'e');
    if (text.length <= DS_MAX_LENGTH) return text;
  }
  throw new RangeError(`DS value ${value} does not fit 16 characters`);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** DA of the local calendar date (DICOM dates and times are local unless TimezoneOffsetFromUTC says so). */
export function formatDa(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
}

/** TM of the local time, to the millisecond. */
export function formatTm(date: Date): string {
  return `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** Minutes east of UTC of a TimezoneOffsetFromUTC value (PS3.3 C.12.1.1.8: "+HHMM" or "-HHMM"); null when absent or malformed. */
export function parseUtcOffset(value: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(value.trim());
  if (!m) return null;
  const hours = Number(m[2]);
  const minutes = Number(m[3]);
  if (hours > 14 || minutes > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/** An instant as a DICOM date and time, and the zone they are in. */
export interface DicomTimestamp {
  readonly date: string;
  readonly time: string;
  /** The zone's offset from UTC at that instant, "+HHMM" or "-HHMM": the suffix that makes a DT value unambiguous. */
  readonly utcOffset: string;
}

/**
 * An instant's DA and TM in the zone `utcOffsetMinutes` east of UTC, where the instance states its
 * TimezoneOffsetFromUTC (every DA and TM in it is then read in that zone), else in the process's local zone (TZ).
 */
export function dicomTimestamp(instant: Date, utcOffsetMinutes: number | null): DicomTimestamp {
  if (utcOffsetMinutes === null) {
    return { date: formatDa(instant), time: formatTm(instant), utcOffset: formatUtcOffset(-instant.getTimezoneOffset()) };
  }
  const t = new Date(instant.getTime() + utcOffsetMinutes * 60_000);
  return {
    date: `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}`,
    time: `${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}`,
    utcOffset: formatUtcOffset(utcOffsetMinutes),
  };
}

/** Minutes east of UTC as "+HHMM" or "-HHMM" (PS3.5 DT's offset suffix, and TimezoneOffsetFromUTC's form). */
export function formatUtcOffset(minutesEast: number): string {
  const abs = Math.abs(minutesEast);
  return `${minutesEast < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}
