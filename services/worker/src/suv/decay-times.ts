import { fromAcrNemaDate, fromAcrNemaTime } from '@mipseg/shared/dicom';
import { siteZoneAt } from '@mipseg/shared/config';
import type { SuvInstanceMetadata } from './suv-instance-metadata';
import { suvUnavailable } from './suv-unavailable';

/**
 * A moment as DICOM DA and TM give it: scanner-local time without a zone. Only differences between moments are
 * used, so `seconds` counts from 1970-01-01 00:00 of that same unknown zone.
 */
export interface DicomMoment {
  /** DA, YYYYMMDD (an ACR-NEMA yyyy.mm.dd without its dots) */
  readonly date: string;
  /** TM in the PS3.5 form (trimmed, an ACR-NEMA hh:mm:ss without its colons), HH[MM[SS[.F…]]] */
  readonly time: string;
  readonly seconds: number;
}

/** Where the scan start of the decay correction came from, for messages. */
export interface ScanStart extends DicomMoment {
  readonly source: string;
  /** Whether it is GE's private scan start (0009,xx0D), moved to the instance's clock where its offset said so. */
  readonly fromGePrivate: boolean;
}

/** The injection moment decay is computed from, and the attribute(s) it was read from, for messages. */
export interface InjectionStart extends DicomMoment {
  readonly source: string;
}

const DA = /^(\d{4})(\d{2})(\d{2})$/;
const TM = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?$/;
/** DT (PS3.5 6.2): a date, a time of at least the hour, an optional UTC offset &ZZXX. */
const DT = /^(\d{8})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)([+-]\d{4})?$/;
/** A UTC offset as DT and Timezone Offset From UTC (0008,0201) write it: &ZZXX, −12:00 to +14:00. */
const UTC_OFFSET = /^([+-])(\d{2})(\d{2})$/;

function dayStartSeconds(date: string): number | null {
  const d = DA.exec(date);
  if (d === null) return null;
  const [year, month, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
  const ms = Date.UTC(year, month - 1, day);
  const check = new Date(ms);
  return check.getUTCMonth() === month - 1 && check.getUTCDate() === day ? ms / 1000 : null;
}

function secondsOfDay(time: string): number | null {
  const t = TM.exec(time);
  if (t === null) return null;
  const [hours, minutes, seconds] = [Number(t[1]), Number(t[2] ?? 0), Number(t[3] ?? 0)];
  if (hours > 23 || minutes > 59 || seconds > 60) return null;
  return hours * 3600 + minutes * 60 + seconds + (t[4] === undefined ? 0 : Number(`0.${t[4]}`));
}

/**
 * A DA and a TM as one moment, in their PS3.5 forms (ACR-NEMA's yyyy.mm.dd and hh:mm:ss accepted, as PS3.5 6.2 asks
 * of readers); null where either is not a valid value.
 */
export function dicomMoment(date: string, time: string): DicomMoment | null {
  const [da, tm] = [fromAcrNemaDate(date), fromAcrNemaTime(time)];
  const day = dayStartSeconds(da);
  const ofDay = secondsOfDay(tm);
  return day === null || ofDay === null ? null : { date: da, time: tm, seconds: day + ofDay };
}

/** Seconds east of UTC of an &ZZXX offset; null where it is not one. */
function utcOffsetSeconds(offset: string): number | null {
  const o = UTC_OFFSET.exec(offset.trim());
  if (o === null) return null;
  const [hours, minutes] = [Number(o[2]), Number(o[3])];
  if (hours > 14 || minutes > 59) return null;
  return (o[1] === '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
}

/** A moment `seconds` from 1970-01-01 00:00 of its zone, written back as DA and TM (to the microsecond). */
function momentAt(seconds: number): DicomMoment {
  const whole = Math.floor(seconds);
  const iso = new Date(whole * 1000).toISOString();
  const micros = Math.round((seconds - whole) * 1e6);
  const fraction = micros === 0 ? '' : `.${String(micros).padStart(6, '0')}`;
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: `${iso.slice(11, 19).replace(/:/g, '')}${fraction}`, seconds };
}

interface DateTimeMoment extends DicomMoment {
  /** The DT's own UTC offset, &ZZXX, where it has one. */
  readonly offset: string | null;
}

function dateTimeMoment(dt: string): DateTimeMoment | null {
  const parts = DT.exec(dt.trim());
  if (parts === null) return null;
  const offset = parts[3] ?? null;
  if (offset !== null && utcOffsetSeconds(offset) === null) return null;
  const moment = dicomMoment(parts[1] as string, parts[2] as string);
  return moment === null ? null : { ...moment, offset };
}

/**
 * A DT moment on the instance's own clock. DA and TM carry no zone: they are in Timezone Offset From UTC
 * (0008,0201) where the instance gives one, else in the site's zone where TZ names it (README: the scanners' zone).
 * A DT with an offset of its own (an injection logged in UTC by a dose-management system beside a scanner on local
 * time) is moved to that zone, or the uptake would be out by whole hours. With neither, the scanner's zone is
 * unknown, and the DT is read as written.
 */
function onInstanceClock(moment: DateTimeMoment, timezoneOffsetFromUtc: string | null): { moment: DicomMoment; note: string } {
  const own = moment.offset === null ? null : utcOffsetSeconds(moment.offset);
  if (own === null) return { moment, note: '' };
  const instant = moment.seconds - own;
  if (timezoneOffsetFromUtc !== null) {
    const stated = utcOffsetSeconds(timezoneOffsetFromUtc);
    if (stated === null || stated === own) return { moment, note: '' };
    return { moment: momentAt(instant + stated), note: ` (UTC${moment.offset}, moved to TimezoneOffsetFromUTC ${timezoneOffsetFromUtc.trim()})` };
  }
  const site = siteZoneAt(instant);
  if (site === null || site.offsetSeconds === own) return { moment, note: '' };
  return { moment: momentAt(instant + site.offsetSeconds),
    note: ` (UTC${moment.offset}, moved to the site's zone, TZ ${site.zone} at UTC${formatOffset(site.offsetSeconds)}: the instance gives no TimezoneOffsetFromUTC)` };
}

/** Seconds east of UTC as &ZZXX. */
function formatOffset(seconds: number): string {
  const minutes = Math.abs(seconds) / 60;
  return `${seconds < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}${String(minutes % 60).padStart(2, '0')}`;
}

function previousDay(date: string): string {
  return momentAt((dayStartSeconds(date) as number) - 86_400).date;
}

function parsed<M extends DicomMoment>(moment: M | null, what: string): M {
  if (moment === null) throw suvUnavailable(`${what} is not a valid date and time`);
  return moment;
}

/**
 * The scan start that decay is corrected to (QIBA SUV pseudo-code, as calculate-suv applies it): SeriesDate and
 * SeriesTime unless they are later than the earliest AcquisitionDate/AcquisitionTime (a series re-processed
 * later); then GE's private post-injection date and time where present, else that earliest acquisition.
 */
export function scanStart(instances: readonly SuvInstanceMetadata[]): ScanStart {
  const first = instances[0] as SuvInstanceMetadata;
  const series = parsed(dicomMoment(first.seriesDate ?? '', first.seriesTime ?? ''),
    `SeriesDate/SeriesTime (0008,0021/0031) ${first.seriesDate} ${first.seriesTime}`);
  const acquisitions = instances.map((m) => parsed(dicomMoment(m.acquisitionDate ?? '', m.acquisitionTime ?? ''),
    `AcquisitionDate/AcquisitionTime (0008,0022/0032) ${m.acquisitionDate} ${m.acquisitionTime} of instance ${m.sopInstanceUid}`));
  const earliest = acquisitions.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  if (series.seconds <= earliest.seconds) return { ...series, source: 'SeriesDate/SeriesTime', fromGePrivate: false };
  const ge = first.gePostInjectionDateTime;
  if (ge !== null) {
    const { moment, note } = onInstanceClock(parsed(dateTimeMoment(ge), `GE private (0009,xx0D) ${ge}`), first.timezoneOffsetFromUtc);
    return { ...moment, source: `GE private (0009,xx0D)${note}`, fromGePrivate: true };
  }
  return { ...earliest, source: 'the earliest AcquisitionDate/AcquisitionTime', fromGePrivate: false };
}

/**
 * The injection: RadiopharmaceuticalStartDateTime where given. RadiopharmaceuticalStartTime alone carries no
 * date; QIBA says to "consider spanning midnight", so it is dated on the day of the scan start actually used (not
 * SeriesDate, which a re-processed series moves to a later day), and on the day before when that would put the
 * injection after the scan (injected at 23:35, scanned at 00:20).
 */
export function injectionStart(first: SuvInstanceMetadata, scan: DicomMoment): InjectionStart {
  const dateTime = first.radiopharmaceuticalStartDateTime;
  const time = (first.radiopharmaceuticalStartTime ?? '').trim();
  let note = '';
  if (dateTime !== null) {
    const source = `RadiopharmaceuticalStartDateTime (0018,1078) ${dateTime.trim()}`;
    const moment = dateTimeMoment(dateTime);
    // A DateTime that cannot be read (a date alone, say) is not the end of it where the StartTime can be.
    if (moment !== null || time === '') {
      const onClock = onInstanceClock(parsed(moment, source), first.timezoneOffsetFromUtc);
      return { ...onClock.moment, source: `${source}${onClock.note}` };
    }
    note = `; ${source} is not a valid date and time`;
  }
  const source = `RadiopharmaceuticalStartTime (0018,1072) ${time}${note}`;
  const sameDay = parsed(dicomMoment(scan.date, time), source);
  if (sameDay.seconds <= scan.seconds) return { ...sameDay, source };
  return { ...parsed(dicomMoment(previousDay(scan.date), time), source), source: `${source} (the day before the scan)` };
}
