import type { Request } from 'express';
import { findIndexedAttribute, type IndexedAttribute } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { JobQueue } from '@mipseg/shared/queue';
import type { Archive, AttributeFilter, SearchRow } from '@mipseg/shared/store';
import { aiStatusOfStudy, isResultAmong } from './ai-status';
import { integerQueryParam, singleQueryParam } from './query-params';
import { readQueue } from '../queue-read';
import { AI_STATES, type AiState, type WorklistPage, type WorklistStudy } from './worklist-types';

/** The worklist's search, already validated: GET /api/worklist?patient=&accession=&from=&to=&state=&limit=&offset= */
export interface WorklistQuery {
  readonly patient?: string;
  readonly accession?: string;
  /** YYYYMMDD, inclusive. */
  readonly from?: string;
  readonly to?: string;
  readonly state?: AiState;
  readonly limit: number;
  readonly offset: number;
}

export const MAX_PAGE_SIZE = 200;

function text(req: Request, name: string, max = 64): string | undefined {
  const value = singleQueryParam(req, name);
  if (value === undefined || value === '') return undefined;
  if (value.length > max) throw new MipsegError('MIPSEG_BAD_QUERY', `${name} (a text of at most ${max} characters)`);
  return value.trim() || undefined;
}

/** Whether YYYYMMDD names a day that exists: 2026-02-30 has the form of a date, but no study can be on it. */
function isCalendarDate(yyyymmdd: string): boolean {
  const [y, m, d] = [yyyymmdd.slice(0, 4), yyyymmdd.slice(4, 6), yyyymmdd.slice(6)].map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d)); // rolls an impossible day over into another month
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

function date(req: Request, name: string): string | undefined {
  const typed = text(req, name, 10);
  const value = typed?.replace(/-/g, '');
  if (value !== undefined && !(/^\d{8}$/.test(value) && isCalendarDate(value))) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `${name}=${typed ?? ''} (a date of the calendar, YYYY-MM-DD)`);
  }
  return value;
}

/** The study date range; a reversed one is refused rather than answered with an empty page that looks like "no studies". */
function dateRange(req: Request): { from: string | undefined; to: string | undefined } {
  const range = { from: date(req, 'from'), to: date(req, 'to') };
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `from (${range.from}) is after to (${range.to})`);
  }
  return range;
}

function integer(req: Request, name: string, fallback: number, min: number, max: number): number {
  const n = integerQueryParam(req, name, fallback);
  if (!Number.isInteger(n) || n < min || n > max) throw new MipsegError('MIPSEG_BAD_QUERY', `${name} (an integer from ${min} to ${max})`);
  return n;
}

export function parseWorklistQuery(req: Request): WorklistQuery {
  const state = text(req, 'state');
  if (state !== undefined && !AI_STATES.includes(state as AiState)) {
    throw new MipsegError('MIPSEG_BAD_QUERY', `state (one of ${AI_STATES.join(', ')})`);
  }
  const q = {
    patient: text(req, 'patient'), accession: text(req, 'accession'), ...dateRange(req),
    state: state as AiState | undefined,
    limit: integer(req, 'limit', 50, 1, MAX_PAGE_SIZE), offset: integer(req, 'offset', 0, 0, 10_000_000),
  };
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) as unknown as WorklistQuery;
}

function attribute(keyword: string): IndexedAttribute {
  const a = findIndexedAttribute(keyword);
  if (!a) throw new MipsegError('MIPSEG_INTERNAL', `${keyword} is not indexed`);
  return a;
}

/** A search filter on an indexed attribute, by its keyword. */
export const filter = (keyword: string, value: string): AttributeFilter => ({ attribute: attribute(keyword), value });

/** Text typed into a search box, taken literally: DICOM wildcards in it are not wildcards. */
const literal = (value: string): string => value.replace(/[*?\\]/g, '');

/**
 * A name typed as the page shows it (`GARCIA, MARIA`), as people say it (`Maria Garcia`) or as DICOM stores it
 * (`GARCIA^MARIA`): its words, each of which must be a part of the stored name, in any order. The index ANDs filters,
 * and its person-name wildcards match in any case, so one filter per word says exactly that.
 */
function nameWordFilters(value: string): AttributeFilter[] {
  const words = value.split(/[\s,^]+/).filter(Boolean);
  return (words.length > 0 ? words : [value]).map((word) => filter('PatientName', `*${word}*`));
}

/**
 * The patient box: the studies whose Patient ID starts with what was typed, in any case (MRNs are typed from the
 * start, and not always in the case the RIS gave them), and those whose Patient Name holds its words (see
 * nameWordFilters): either, so that a patient called MARTIN is found beside the IDs that start MAR.
 */
function patientGroups(typed: string): AttributeFilter[][] {
  const value = literal(typed);
  return [[{ ...filter('PatientID', `${value}*`), anyCase: true }], nameWordFilters(value)];
}

/** The studies a state filter allows, from the job queue (undefined = no restriction). */
async function studiesInState(sources: WorklistSources, state: AiState | undefined, pending: ReadonlySet<string>): Promise<string[] | undefined> {
  if (state === undefined) return undefined;
  if (state === 'waiting') return [...pending];
  if (state === 'none') throw new MipsegError('MIPSEG_BAD_QUERY', 'state=none cannot be filtered on');
  if (state !== 'done' && state !== 'deleted') {
    return (await readQueue(sources.queue.studiesWithLatestJobState(state), `studies whose newest job is ${state}`)).filter((uid) => !pending.has(uid));
  }
  // Done and deleted differ only in whether the result's series are still stored: one index query for all of them.
  const results = [...(await readQueue(sources.queue.latestDoneResults(), 'the newest results'))].filter(([uid]) => !pending.has(uid));
  const stored = sources.archive.index.storedSopInstanceUids(results.flatMap(([, r]) => [r.mipSopInstanceUid, r.segSopInstanceUid]));
  return results.filter(([, r]) => isResultAmong(stored, r) === (state === 'done')).map(([uid]) => uid);
}

const str = (row: SearchRow, column: string): string | null => {
  const v = row[column];
  return v === null || v === undefined ? null : String(v);
};

/** PET series per study among `studyUids` (one series-level search for the whole page). */
function countPetSeries(archive: Archive, studyUids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  if (studyUids.length === 0) return counts;
  const { rows } = archive.index.search({
    level: 'series', filters: [filter('StudyInstanceUID', studyUids.join(',')), filter('Modality', 'PT')], limit: 100_000, offset: 0,
  });
  for (const row of rows) {
    if ((row.number_of_series_related_instances ?? 0) < 2) continue;
    const study = String(row['study_uid']);
    counts.set(study, (counts.get(study) ?? 0) + 1);
  }
  return counts;
}

export interface WorklistSources {
  readonly archive: Archive;
  readonly queue: JobQueue;
}

/** Index rows joined with their newest job and PET series counts. */
export async function toWorklistStudies(sources: WorklistSources, rows: readonly SearchRow[], pending: ReadonlySet<string>): Promise<WorklistStudy[]> {
  const uids = rows.map((r) => String(r['study_uid']));
  const [jobs, petSeries] = [await readQueue(sources.queue.latestJobsByStudy(uids), 'the newest jobs'), countPetSeries(sources.archive, uids)];
  return rows.map((row, i) => {
    const uid = uids[i] as string;
    return {
      studyInstanceUid: uid,
      patientName: str(row, 'patient_name'),
      patientId: str(row, 'patient_id'),
      patientBirthDate: str(row, 'patient_birth_date'),
      patientSex: str(row, 'patient_sex'),
      studyDate: str(row, 'study_date'),
      studyTime: str(row, 'study_time'),
      accessionNumber: str(row, 'accession_number'),
      studyDescription: str(row, 'study_description'),
      modalities: (row.modalities_in_study ?? '').split('\\').filter(Boolean),
      petSeries: petSeries.get(uid) ?? 0,
      instances: row.number_of_study_related_instances ?? 0,
      ai: aiStatusOfStudy(sources.archive, jobs.get(uid), pending.has(uid)),
    };
  });
}

/** Studies in their quiet period ("waiting"), within the time a person is kept waiting for the queue. */
export async function readPendingStudies(queue: JobQueue): Promise<Set<string>> {
  return new Set(await readQueue(queue.pendingStudies(), 'the studies in their quiet period'));
}

/**
 * One page of the worklist, newest study first: one study-level search of the index (its filters, order and
 * paging), then the page's newest jobs and PET series counts in one lookup each.
 */
export async function searchWorklist(sources: WorklistSources, query: WorklistQuery): Promise<WorklistPage> {
  const pending = await readPendingStudies(sources.queue);
  const allowed = await studiesInState(sources, query.state, pending);
  const empty = { studies: [], offset: query.offset, limit: query.limit, hasMore: false };
  if (allowed !== undefined && allowed.length === 0) return empty;
  const filters: AttributeFilter[] = [];
  // Tens of thousands of studies can be in one state: the index binds a UID list as one JSON parameter.
  if (allowed) filters.push(filter('StudyInstanceUID', allowed.join(',')));
  if (query.accession) filters.push({ ...filter('AccessionNumber', `*${literal(query.accession)}*`), anyCase: true });
  if (query.from || query.to) filters.push(filter('StudyDate', `${query.from ?? ''}-${query.to ?? ''}`));
  const anyOf = query.patient ? [patientGroups(query.patient)] : [];
  const { rows, truncated } = sources.archive.index.search({ level: 'study', filters, anyOf, limit: query.limit, offset: query.offset });
  return { studies: await toWorklistStudies(sources, rows, pending), offset: query.offset, limit: query.limit, hasMore: truncated };
}
