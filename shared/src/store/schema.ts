import { fromAcrNemaDate, fromAcrNemaTime } from '../dicom/legacy-date-time';
import type { SqliteSchema } from './sqlite-database';

/**
 * SQLite schema of the archive index: patient / study / series / instance, with the attributes QIDO
 * matches on. Times are also kept normalised (HHMMSS.FFFFFF) so that range matching compares correctly.
 */
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS patients (
  patient_key TEXT PRIMARY KEY,            -- PatientID + '\\' + IssuerOfPatientID; 'study:' + StudyInstanceUID without a PatientID
  patient_id TEXT, issuer_of_patient_id TEXT, patient_name TEXT, patient_birth_date TEXT, patient_sex TEXT
);
CREATE INDEX IF NOT EXISTS patients_id ON patients(patient_id);
CREATE TABLE IF NOT EXISTS studies (
  study_uid TEXT PRIMARY KEY,
  patient_key TEXT NOT NULL REFERENCES patients(patient_key),
  study_date TEXT, study_time TEXT, study_time_n TEXT, accession_number TEXT, referring_physician_name TEXT,
  study_id TEXT, study_description TEXT, timezone_offset TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_key);
CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date);
CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number);
CREATE INDEX IF NOT EXISTS studies_updated ON studies(updated_at);
CREATE TABLE IF NOT EXISTS series (
  series_uid TEXT PRIMARY KEY,
  study_uid TEXT NOT NULL REFERENCES studies(study_uid),
  modality TEXT, series_description TEXT, series_number INTEGER, series_date TEXT, series_time TEXT,
  series_time_n TEXT, pps_start_date TEXT, pps_start_time TEXT, pps_start_time_n TEXT, body_part_examined TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS series_study ON series(study_uid);
CREATE INDEX IF NOT EXISTS series_modality ON series(modality);
CREATE TABLE IF NOT EXISTS instances (
  sop_instance_uid TEXT PRIMARY KEY,
  series_uid TEXT NOT NULL REFERENCES series(series_uid),
  study_uid TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL, transfer_syntax_uid TEXT NOT NULL,
  instance_number INTEGER, rows INTEGER, columns INTEGER, bits_allocated INTEGER, number_of_frames INTEGER,
  storage_key TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_uid, instance_number);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
-- Stored, but their listeners failed (their study check not recorded; the sender was told to send again): a re-send
-- tells the listeners again, after a restart too. Older code ignores the table.
CREATE TABLE IF NOT EXISTS unheard_instances (sop_instance_uid TEXT PRIMARY KEY);
`;

/** DATA_DIR/index.sqlite. Version 1: the tables above. */
export const INDEX_SCHEMA: SqliteSchema = { name: 'archive index', version: 1, sql: SCHEMA_SQL };

/** A value as `fromAcrNema` writes it where that rewrites an ACR-NEMA form; any other value, padding included, as it came. */
function withoutAcrNemaForm<T extends string | number | null | undefined>(value: T, fromAcrNema: (v: string) => string): T | string {
  if (typeof value !== 'string') return value;
  const normalised = fromAcrNema(value);
  return normalised !== value.trim() ? normalised : value;
}

/**
 * A DA value as the index keeps it: yyyy.mm.dd becomes yyyymmdd, so that a QIDO date match or range finds it and the
 * answer carries a valid DA; any other value stays as it came. The stored file keeps what was sent.
 */
export function normaliseDate<T extends string | number | null | undefined>(da: T): T | string {
  return withoutAcrNemaForm(da, fromAcrNemaDate);
}

/** The index's DA columns: each is kept as normaliseDate gives it. */
export const DATE_COLUMNS = [['patients', 'patient_birth_date'], ['studies', 'study_date'], ['series', 'series_date'],
  ['series', 'pps_start_date']] as const;

/**
 * A TM value as the index keeps it: hh:mm:ss.frac becomes hhmmss.frac, so that the answer carries a valid TM (DICOM
 * JSON has no ACR-NEMA form); any other value stays as it came. The stored file keeps what was sent.
 */
export function normaliseTimeValue<T extends string | number | null | undefined>(tm: T): T | string {
  return withoutAcrNemaForm(tm, fromAcrNemaTime);
}

/** The index's TM columns as they are answered: each is kept as normaliseTimeValue gives it. */
export const TIME_COLUMNS = [['studies', 'study_time'], ['series', 'series_time'], ['series', 'pps_start_time']] as const;

/** Normalises a DICOM TM value for comparisons: "1035" -> "103500.000000"; null stays null. */
export function normaliseTime(tm: string | null): string | null {
  if (tm === null) return null;
  const clean = tm.replace(/:/g, '').trim();
  const [whole = '', frac = ''] = clean.split('.');
  return `${whole.padEnd(6, '0').slice(0, 6)}.${frac.padEnd(6, '0').slice(0, 6)}`;
}
