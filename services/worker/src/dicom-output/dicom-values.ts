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
