/** How DICOM values read on screen. */

/**
 * "DOE^JANE^M" → "DOE, JANE M": family name first, as worklists show it. The alphabetic group is shown; a name held
 * only in its ideographic or phonetic group ("=山田^太郎") is shown in the first group that has one.
 */
export function formatPatientName(pn: string | null): string {
  const group = pn?.split('=').find((g) => g.replace(/\^/g, '').trim() !== '');
  if (!group) return '(no name)';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^');
  const rest = [prefix, given, middle, suffix].filter(Boolean).join(' ');
  if (!family) return rest;
  return rest ? `${family}, ${rest}` : family;
}

/** "20240131" → "2024-01-31". */
export function formatDate(da: string | null): string {
  if (!da || !/^\d{8}$/.test(da)) return da ?? '';
  return `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}`;
}

/** "143015.123" → "14:30". */
export function formatTime(tm: string | null): string {
  if (!tm) return '';
  const t = tm.replace(/:/g, '');
  return t.length >= 4 ? `${t.slice(0, 2)}:${t.slice(2, 4)}` : t;
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** What a study's date and time are, for a tooltip: a reader must not take them for the page's times (formatDateTime). */
export const STUDY_DATE_TIME_NOTE = 'Study Date and Time as the scanner recorded them: its local time (DICOM gives them without a time zone)';

/** en-GB for the digits only: its numeric parts are zero-padded and its hours run 00-23. */
const DIGITS: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  second: '2-digit', hourCycle: 'h23' };

/**
 * A time the service recorded (a job's start or end), in the reader's time zone, or `timeZone`, and named: "2026-01-15
 * 02:50:00 CET" (or "GMT+1", as the reader's locale abbreviates it). Without the zone, two workstations in different
 * zones show one job at different times and nothing says so. Not for DICOM dates and times: those are the scanner's
 * local time, with no zone to convert from (formatDate, formatTime).
 */
export function formatDateTime(ms: number | null, timeZone?: string): string {
  if (ms === null) return '';
  const d = new Date(ms);
  const at = (parts: Intl.DateTimeFormatPart[]) => (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  const n = at(new Intl.DateTimeFormat('en-GB', { ...DIGITS, timeZone }).formatToParts(d));
  const zone = at(new Intl.DateTimeFormat(undefined, { timeZone, timeZoneName: 'short' }).formatToParts(d))('timeZoneName');
  return `${n('year')}-${n('month')}-${n('day')} ${n('hour')}:${n('minute')}:${n('second')} ${zone}`.trim();
}

/** mm² as the clinician reads it: cm² with one decimal from 1 cm² up. */
export function formatArea(mm2: number | null): string {
  if (mm2 === null) return '';
  return mm2 >= 100 ? `${(mm2 / 100).toFixed(1)} cm²` : `${Math.round(mm2)} mm²`;
}

/** Age from a DICOM birth date, at the study date. */
/** Completed years, or for a child under two completed months (as DICOM's PatientAge does: "8 mo", not "0 y"). */
function ageAt(birth: string, ref: string): string {
  const [by, bm, bd] = [Number(birth.slice(0, 4)), Number(birth.slice(4, 6)), Number(birth.slice(6, 8))];
  const [ry, rm, rd] = [Number(ref.slice(0, 4)), Number(ref.slice(4, 6)), Number(ref.slice(6, 8))];
  const months = (ry - by) * 12 + (rm - bm) - (rd < bd ? 1 : 0);
  return months >= 24 ? `${Math.floor(months / 12)} y` : `${Math.max(0, months)} mo`;
}

export function formatSexAge(sex: string | null, birth: string | null, studyDate: string | null): string {
  const parts: string[] = [];
  if (sex) parts.push(sex);
  if (birth && /^\d{8}$/.test(birth)) {
    const ref = studyDate && /^\d{8}$/.test(studyDate) ? studyDate : null;
    if (ref) {
      parts.push(ageAt(birth, ref));
    } else {
      parts.push(`born ${formatDate(birth)}`);
    }
  }
  return parts.join(' · ');
}

const STAGE_LABELS: Readonly<Record<string, string>> = {
  select: 'selecting series', decode: 'reading images', suv: 'computing SUV', mip: 'projecting MIP', inference: 'segmenting',
  write: 'writing DICOM', store: 'storing results', export: 'exporting',
};

export const stageLabel = (stage: string | null): string => (stage ? (STAGE_LABELS[stage] ?? stage) : 'starting');

/** Long UIDs in a message shortened to their last digits (the whole text stays in the element's title). */
export function shortenUids(text: string): string {
  return text.replace(/\b\d+(?:\.\d+)+\b/g, (uid) => (uid.length > 16 ? `…${uid.slice(-6)}` : uid));
}
