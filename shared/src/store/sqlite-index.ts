import type Database from 'better-sqlite3';
import { MipsegError } from '../errors';
import { StatementCache } from './statement-cache';
import { withoutEmptyTrailingComponents, type InstanceHeader } from '../dicom/parse-header';
import type { IndexedValues } from '../dicom/attributes';
import { anyOfFragment, filterFragment, FOLD_FUNCTION, foldCase, matchesAll, modalitiesInStudyFragment, type SqlFragment, type SearchQuery } from './query';
import { DATE_COLUMNS, INDEX_SCHEMA, normaliseDate, normaliseTime, normaliseTimeValue, TIME_COLUMNS } from './schema';
import { openSqliteDatabase } from './sqlite-database';
import { WalSync } from './wal-sync';

/** An instance as the index knows it. */
export interface StoredInstance {
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly sopClassUid: string;
  readonly transferSyntaxUid: string;
  readonly storageKey: string;
  readonly size: number;
  readonly sha256: string;
  readonly rows: number | null;
  readonly columns: number | null;
  readonly bitsAllocated: number | null;
  readonly numberOfFrames: number | null;
  readonly instanceNumber: number | null;
}

/**
 * What sets a study's rows again once some of its instances are deleted, overwriting what they set: the study's
 * attributes come from the remaining instance of the study that set them last, the patient's (a row its other studies
 * share) from the one of any study of that patient (see attributeSource), as they would had the deleted ones never come.
 */
export interface RemainingHeaders {
  readonly study: InstanceHeader;
  readonly patient?: InstanceHeader;
  /**
   * The sources of the study's other series (seriesSources), newest first: where `study` leaves an attribute empty,
   * the first of them that has it sets it, as storing them did (a PET series without the CT's AccessionNumber).
   */
  readonly others?: readonly InstanceHeader[];
  /** For an instance's deletion: its series' newest remaining instance, which sets the series' attributes again. */
  readonly series?: InstanceHeader;
}

/** A deletion target's rows, to tell later whether they are the same rows (see Archive's deletion bags). */
export interface RowsSummary {
  readonly count: number;
  readonly latestReceivedAt: number;
}

/** How an instance arrives in the index (see ArchiveIndex.putInstance). */
export type InstanceArrival = 'new-series' | 'in-known-series' | 'replacement';

/** What a patient other studies keep takes its attributes from once a series deletion takes its study's rows. */
export interface PatientAfterStudy {
  readonly patientAfter: InstanceHeader;
}

export interface StoredFile {
  readonly storageKey: string;
  readonly size: number;
  readonly sha256: string;
}

/** A search result row: indexed columns plus the computed counts of its level. */
export type SearchRow = IndexedValues & {
  readonly number_of_study_related_series?: number;
  readonly number_of_study_related_instances?: number;
  readonly number_of_series_related_instances?: number;
  readonly modalities_in_study?: string | null;
};

export interface SearchResult {
  readonly rows: SearchRow[];
  /** True when more rows matched than `limit`. */
  readonly truncated: boolean;
}

/** The archive index: patient/study/series/instance rows, QIDO search, counts. */
export interface ArchiveIndex {
  findInstance(sopInstanceUid: string): StoredInstance | undefined;
  /** The study a series belongs to, if the series is known. */
  findSeriesStudy(seriesUid: string): string | undefined;
  /**
   * Indexes an instance. `in-known-series`: the series row exists already and the instance is new to it, so only the
   * instance row is written (patient/study/series attributes do not change within a series; saves three upserts).
   * A `replacement` of a stored copy may carry corrected attributes, a PatientID added or dropped among them: it is
   * indexed in full. A `new-series` without a PatientID in a study filed under one says nothing of the patient (Type
   * 2): the study stays filed where it is. Throws MIPSEG_INSTANCE_CONFLICT, writing nothing, when the series belongs
   * to another study, and MIPSEG_PATIENT_MISMATCH when an instance that is not a replacement names a PatientID (and
   * issuer) other than that of the patient its study is filed under (a study filed without one takes it).
   */
  /**
   * `others`: for a replacement, the headers of the study's other series' sources (seriesSources), newest first, and
   * `ofPatient` the newest source of the patient's other studies (patientSourceWithout), whose row they share.
   */
  putInstance(header: InstanceHeader, file: StoredFile, arrival?: InstanceArrival, others?: readonly InstanceHeader[],
    ofPatient?: readonly InstanceHeader[]): void;
  /** Makes every write committed so far durable (survives a power loss); stores call it before they acknowledge. */
  syncToDisk(): Promise<void>;
  /** Which of these SOP Instance UIDs are stored (one query however many). */
  storedSopInstanceUids(sopInstanceUids: readonly string[]): Set<string>;
  listInstances(scope: { studyUid: string; seriesUid?: string; sopInstanceUid?: string }): StoredInstance[];
  /** One instance of a study or series, whose metadata stands for the study/series-level attributes. */
  findRepresentativeInstance(scope: { studyUid: string; seriesUid?: string }): StoredInstance | undefined;
  search(query: SearchQuery): SearchResult;
  countInstances(): number;
  /**
   * Removes a study's instance, series and study rows, and its patient's row when no other study has that
   * patient, in one transaction. A patient other studies keep takes its attributes from `patientAfter` (an instance
   * of those, see patientSourceWithout): the deleted study (filed under the wrong PatientID, say) may have set them.
   * Returns the number of instances it held; undefined when the study is not known.
   */
  deleteStudy(studyUid: string, patientAfter?: InstanceHeader): number | undefined;
  /**
   * Removes a series of a study: its instance and series rows, and the study's (and its patient's) when it was
   * the study's last series. Otherwise the study's patient and study attributes are set again from `remaining`
   * (instances that stay): the deleted series (sent under the wrong patient, say) had set them when it was stored.
   * Returns the number of instances it held; undefined when the study has no such series.
   */
  deleteSeries(studyUid: string, seriesUid: string, remaining?: RemainingHeaders | PatientAfterStudy): number | undefined;
  /**
   * Removes one instance's row, not the last of its series (deleteSeries takes that), and sets the study's patient
   * and study attributes again from `remaining`, as deleteSeries does. False when the instance is not stored.
   */
  /** `remaining` undefined: the study's attributes stay as they are (no remaining instance could be read). */
  deleteInstance(studyUid: string, sopInstanceUid: string, remaining: RemainingHeaders | undefined): boolean;
  /** See SqliteArchiveIndex.attributeSource. */
  /** `skip`: how many of the best sources to pass over (their files could not be read). */
  attributeSource(scope: { studyUid: string; patientKey?: string }, gone: { seriesUid?: string; sopInstanceUid?: string }, skip?: number): StoredInstance | undefined;
  /**
   * Of the other studies filed under a study's patient, the instance whose attributes the patient's row takes once
   * that study is deleted (ordered as attributeSource orders); undefined when the patient has no other study.
   */
  /** `patientKey`: the patient whose other studies are looked at, where not the one the study is filed under now. */
  patientSourceWithout(studyUid: string, skip?: number, patientKey?: string): StoredInstance | undefined;
  /**
   * One instance per series of a study, the one that set its attributes last (as attributeSource orders them), newest
   * series first, leaving out `except`'s series and the instance or series `gone`: at most SERIES_SOURCES_READ.
   */
  seriesSources(studyUid: string, gone: { seriesUid?: string; sopInstanceUid?: string }, exceptSeriesUid?: string): StoredInstance[];
  /**
   * How many rows a study, series or instance has (those received no later than `receivedUpTo`, where given), and when
   * its newest was received (ms since the epoch; 0: none).
   */
  rowsSummary(target: { study: string; series?: string; sop?: string }, receivedUpTo?: number): RowsSummary;
  /** A series' newest instance but `goneSop` (as seriesSources picks one per series). */
  sourceOfSeries(seriesUid: string, goneSop: string): StoredInstance | undefined;
  /** Instances stored whose listeners failed (see Archive.notifyStored), kept across restarts. */
  unheardInstances(): string[];
  /** Records that an instance's listeners failed (`true`), or have now heard of it (`false`). */
  setUnheard(sopInstanceUid: string, unheard: boolean): void;
  /** A value the archive keeps about itself (the meta table); undefined where none is set. */
  metaValue(key: string): string | undefined;
  setMetaValue(key: string, value: string): void;
  close(): void;
}

/**
 * Starts the key of the patient of a study without a PatientID, followed by its StudyInstanceUID. Such a key has no
 * backslash, which every PatientID key has, so it is never a real patient's.
 */
const OWN_PATIENT_KEY_PREFIX = 'study:';

/** The `meta` key that records that studies without a PatientID that earlier releases merged were given their patients. */
const PATIENTS_SEPARATED = 'patients-without-id-separated';

/**
 * The key of the patients row an instance's study belongs to: PatientID + '\' + IssuerOfPatientID. A study without a
 * PatientID has a patient of its own, as in dcm4chee: one row shared by all such studies would show the last one's
 * name, birth date and sex for every other.
 */
export function patientKeyOf(header: InstanceHeader): string {
  const v = header.values;
  const id = v['patient_id'] ?? '';
  if (String(id).trim() === '') return `${OWN_PATIENT_KEY_PREFIX}${header.studyInstanceUid}`;
  return `${id}\\${v['issuer_of_patient_id'] ?? ''}`;
}

/** An instance's patient, study, series and instance attributes as the index's statements take them. */
function attributeRow(header: InstanceHeader) {
  const v = header.values;
  return {
    ...v,
    patient_key: patientKeyOf(header),
    study_uid: header.studyInstanceUid,
    series_uid: header.seriesInstanceUid,
    sop_instance_uid: header.sopInstanceUid,
    sop_class_uid: header.sopClassUid,
    transfer_syntax_uid: header.transferSyntaxUid,
    ...Object.fromEntries(DATE_COLUMNS.map(([, column]) => [column, normaliseDate(v[column])])),
    ...Object.fromEntries(TIME_COLUMNS.map(([, column]) => [column, normaliseTimeValue(v[column])])),
    study_time_n: normaliseTime(v['study_time'] as string | null),
    series_time_n: normaliseTime(v['series_time'] as string | null),
    pps_start_time_n: normaliseTime(v['pps_start_time'] as string | null),
    now: Date.now(),
  };
}

/** The condition that picks a deletion target's rows: an instance, a series, or a study (with `study_uid = ?` after it). */
const targetWhere = (target: { series?: string; sop?: string }): string =>
  (target.sop !== undefined ? 'sop_instance_uid = ?' : target.series !== undefined ? 'series_uid = ?' : 'study_uid = ?');

/** The series row's attributes, overwritten from one instance's (replaceSeries, refileSeries). */
const SERIES_ATTRIBUTES_SET = `modality = @modality, series_description = @series_description, series_number = @series_number,
  series_date = @series_date, series_time = @series_time, series_time_n = @series_time_n, pps_start_date = @pps_start_date,
  pps_start_time = @pps_start_time, pps_start_time_n = @pps_start_time_n, body_part_examined = @body_part_examined`;

/** Most series whose sources a replacement or deletion reads to merge a study's attributes (seriesSources). */
export const SERIES_SOURCES_READ = 20;

const MERGED_STUDY_COLUMNS = ['study_date', 'accession_number', 'referring_physician_name', 'study_id', 'study_description', 'timezone_offset'] as const;
const MERGED_PATIENT_COLUMNS = ['patient_name', 'patient_birth_date', 'patient_sex'] as const;
const PATIENT_COLUMNS = ['patient_key', 'patient_id', 'issuer_of_patient_id', ...MERGED_PATIENT_COLUMNS] as const;

/** Whether a patient key is that of a study filed under a patient of its own (no PatientID; see patientKeyOf). */
function isOwnPatientKey(key: unknown): boolean {
  return String(key).startsWith(OWN_PATIENT_KEY_PREFIX);
}

/**
 * `primary`'s row, each study attribute it leaves empty taken from the first of `others` that has it (a study's series
 * can differ: a CT with the AccessionNumber, a PET without), and each patient attribute from the first of the same
 * patient among them and then `ofPatient` (the patient's other studies, which share its row); StudyTime with its
 * normalised form, from one source. Values `primary` has, empty ones included where no other source has the attribute, are what a correction or a deletion leaves: nothing of a replaced copy or of deleted
 * instances survives, as it did when the index merged with the row already there.
 */
function mergedRow(primary: InstanceHeader, others: readonly InstanceHeader[], ofPatient: readonly InstanceHeader[] = []) {
  const row: Record<string, unknown> = attributeRow(primary);
  const rows: Record<string, unknown>[] = others.map(attributeRow);
  // A source without a PatientID (Type 2, sent empty) leaves its study with the patient another of its series names, as
  // a new series without one does (putInstance): a patient of the study's own would hide it from a search by that ID.
  const identified = isOwnPatientKey(row['patient_key']) ? rows.find((r) => !isOwnPatientKey(r['patient_key'])) : undefined;
  if (identified) for (const column of PATIENT_COLUMNS) row[column] = identified[column];
  // The other studies' sources are of this patient by their studies' filing, whatever their own PatientID says.
  const patientRows: Record<string, unknown>[] = [...rows.filter((r) => r['patient_key'] === row['patient_key']),
    ...ofPatient.map((h) => ({ ...attributeRow(h), patient_key: row['patient_key'] }))];
  const has = (r: Record<string, unknown>, column: string): boolean => r[column] !== null && r[column] !== undefined && r[column] !== '';
  const fill = (columns: readonly string[], from: readonly Record<string, unknown>[]): void => {
    for (const column of columns) {
      const source = has(row, column) ? undefined : from.find((r) => has(r, column));
      if (source) row[column] = source[column];
    }
  };
  fill(MERGED_STUDY_COLUMNS, rows);
  fill(MERGED_PATIENT_COLUMNS, patientRows);
  if (!has(row, 'study_time')) {
    const source = rows.find((r) => has(r, 'study_time'));
    if (source) Object.assign(row, { study_time: source['study_time'], study_time_n: source['study_time_n'] });
  }
  return row as ReturnType<typeof attributeRow>;
}

/** Instances with the time their series' attributes were last set (series_set_at): what orders attribute sources. */
const WITH_SERIES_SET_AT = '(SELECT i.*, se.updated_at AS series_set_at FROM instances i JOIN series se ON se.series_uid = i.series_uid)';

const INSTANCE_COLUMNS = `sop_instance_uid AS sopInstanceUid, series_uid AS seriesInstanceUid,
  study_uid AS studyInstanceUid, sop_class_uid AS sopClassUid, transfer_syntax_uid AS transferSyntaxUid,
  storage_key AS storageKey, size, sha256, rows, columns, bits_allocated AS bitsAllocated,
  number_of_frames AS numberOfFrames, instance_number AS instanceNumber`;

const FROM_BY_LEVEL = {
  study: 'studies s JOIN patients p ON p.patient_key = s.patient_key',
  series: 'series se JOIN studies s ON s.study_uid = se.study_uid JOIN patients p ON p.patient_key = s.patient_key',
  instance:
    'instances i JOIN series se ON se.series_uid = i.series_uid JOIN studies s ON s.study_uid = se.study_uid ' +
    'JOIN patients p ON p.patient_key = s.patient_key',
} as const;

/**
 * A series or instance search that filters on attributes of its own level only (or on none) walks its rows in the
 * order it answers in, from their index, and stops at the limit: CROSS JOIN keeps SQLite to that order. Left to
 * choose, with table statistics, it joins every instance of the archive and sorts them (150 ms at 450,000 instances,
 * for the first page).
 */
const FROM_IN_ORDER_BY_LEVEL: Readonly<Partial<Record<SearchQuery['level'], string>>> = {
  series: 'series se CROSS JOIN studies s ON s.study_uid = se.study_uid CROSS JOIN patients p ON p.patient_key = s.patient_key',
  instance: 'instances i CROSS JOIN series se ON se.series_uid = i.series_uid '
    + 'CROSS JOIN studies s ON s.study_uid = se.study_uid CROSS JOIN patients p ON p.patient_key = s.patient_key',
};

function fromClause(query: SearchQuery): string {
  const filters = [...query.filters, ...(query.anyOf ?? []).flat(2)];
  const ownLevelOnly = (query.modalitiesInStudy ?? []).length === 0
    && filters.every((f) => f.attribute.level === query.level || matchesAll(f.value));
  return (ownLevelOnly ? FROM_IN_ORDER_BY_LEVEL[query.level] : undefined) ?? FROM_BY_LEVEL[query.level];
}

const SELECT_BY_LEVEL = {
  study: `p.*, s.*,
    (SELECT COUNT(*) FROM series x WHERE x.study_uid = s.study_uid) AS number_of_study_related_series,
    (SELECT COUNT(*) FROM instances x WHERE x.study_uid = s.study_uid) AS number_of_study_related_instances,
    (SELECT group_concat(m, '\\') FROM (SELECT DISTINCT modality AS m FROM series x
       WHERE x.study_uid = s.study_uid AND modality IS NOT NULL ORDER BY modality)) AS modalities_in_study`,
  series: `p.*, s.*, se.*,
    (SELECT COUNT(*) FROM instances x WHERE x.series_uid = se.series_uid) AS number_of_series_related_instances`,
  instance: 'p.*, s.*, se.*, i.*',
} as const;

const ORDER_BY_LEVEL = {
  study: 's.study_date DESC, s.study_time_n DESC, s.study_uid',
  series: 'se.study_uid, se.series_number, se.series_uid',
  instance: 'i.series_uid, i.instance_number, i.sop_instance_uid',
} as const;

/** How many instance writes between two looks at the planner statistics (a look that finds them current costs nothing). */
const STATISTICS_REFRESH_WRITES = 5000;

export class SqliteArchiveIndex implements ArchiveIndex {
  private readonly db: Database.Database;
  private readonly stmts;
  /** The statements whose SQL depends on the query (a few shapes each), compiled once per shape. */
  private readonly statements: StatementCache;
  private readonly wal: WalSync;

  constructor(path: string) {
    this.db = openSqliteDatabase(path, INDEX_SCHEMA);
    // WAL with synchronous=NORMAL: a killed process never loses a committed row or corrupts the index; what a power
    // loss could take is made durable by syncToDisk where a store is acknowledged.
    this.db.pragma('synchronous = NORMAL');
    this.wal = new WalSync(`${path}-wal`);
    this.db.pragma('foreign_keys = ON');
    this.db.function(FOLD_FUNCTION, { deterministic: true }, (value: unknown) => foldCase(value) as string | null);
    this.statements = new StatementCache(this.db);
    this.normaliseLegacyNames();
    this.normaliseLegacyDates();
    this.normaliseLegacyTimes();
    this.refreshPlannerStatistics();
    this.stmts = {
      findInstance: this.db.prepare(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE sop_instance_uid = ?`),
      upsertPatient: this.db.prepare(`INSERT INTO patients VALUES (@patient_key, @patient_id, @issuer_of_patient_id,
          @patient_name, @patient_birth_date, @patient_sex)
        ON CONFLICT(patient_key) DO UPDATE SET patient_name = coalesce(excluded.patient_name, patient_name),
          patient_birth_date = coalesce(excluded.patient_birth_date, patient_birth_date),
          patient_sex = coalesce(excluded.patient_sex, patient_sex)`),
      upsertStudy: this.db.prepare(`INSERT INTO studies VALUES (@study_uid, @patient_key, @study_date, @study_time,
          @study_time_n, @accession_number, @referring_physician_name, @study_id, @study_description,
          @timezone_offset, @now, @now)
        ON CONFLICT(study_uid) DO UPDATE SET patient_key = excluded.patient_key,
          study_date = coalesce(excluded.study_date, study_date), study_time = coalesce(excluded.study_time, study_time),
          study_time_n = coalesce(excluded.study_time_n, study_time_n),
          accession_number = coalesce(excluded.accession_number, accession_number),
          referring_physician_name = coalesce(excluded.referring_physician_name, referring_physician_name),
          study_id = coalesce(excluded.study_id, study_id),
          study_description = coalesce(excluded.study_description, study_description),
          timezone_offset = coalesce(excluded.timezone_offset, timezone_offset), updated_at = @now`),
      upsertSeries: this.db.prepare(`INSERT INTO series VALUES (@series_uid, @study_uid, @modality,
          @series_description, @series_number, @series_date, @series_time, @series_time_n, @pps_start_date,
          @pps_start_time, @pps_start_time_n, @body_part_examined, @now, @now)
        ON CONFLICT(series_uid) DO UPDATE SET modality = coalesce(excluded.modality, modality),
          series_description = coalesce(excluded.series_description, series_description),
          series_number = coalesce(excluded.series_number, series_number),
          series_date = coalesce(excluded.series_date, series_date), series_time = coalesce(excluded.series_time, series_time),
          series_time_n = coalesce(excluded.series_time_n, series_time_n),
          pps_start_date = coalesce(excluded.pps_start_date, pps_start_date),
          pps_start_time = coalesce(excluded.pps_start_time, pps_start_time),
          pps_start_time_n = coalesce(excluded.pps_start_time_n, pps_start_time_n),
          body_part_examined = coalesce(excluded.body_part_examined, body_part_examined), updated_at = @now`),
      upsertInstance: this.db.prepare(`INSERT INTO instances VALUES (@sop_instance_uid, @series_uid, @study_uid,
          @sop_class_uid, @transfer_syntax_uid, @instance_number, @rows, @columns, @bits_allocated,
          @number_of_frames, @storage_key, @size, @sha256, @now)
        ON CONFLICT(sop_instance_uid) DO UPDATE SET sop_class_uid = excluded.sop_class_uid,
          transfer_syntax_uid = excluded.transfer_syntax_uid, instance_number = excluded.instance_number,
          rows = excluded.rows, columns = excluded.columns, bits_allocated = excluded.bits_allocated,
          number_of_frames = excluded.number_of_frames, storage_key = excluded.storage_key, size = excluded.size,
          sha256 = excluded.sha256, received_at = excluded.received_at`),
      countInstances: this.db.prepare('SELECT COUNT(*) AS n FROM instances'),
      findSeriesStudy: this.db.prepare('SELECT study_uid AS studyUid FROM series WHERE series_uid = ?'),
      findStudyPatient: this.db.prepare('SELECT patient_key AS patientKey FROM studies WHERE study_uid = ?'),
      findStudyPatientId: this.db.prepare(`SELECT s.patient_key AS patientKey, p.patient_id AS id, p.issuer_of_patient_id AS issuer
        FROM studies s JOIN patients p ON p.patient_key = s.patient_key WHERE s.study_uid = ?`),
      // Overwriting, not merging: what a deleted series set must not survive it.
      replacePatient: this.db.prepare(`INSERT INTO patients VALUES (@patient_key, @patient_id, @issuer_of_patient_id,
          @patient_name, @patient_birth_date, @patient_sex)
        ON CONFLICT(patient_key) DO UPDATE SET patient_name = excluded.patient_name,
          patient_birth_date = excluded.patient_birth_date, patient_sex = excluded.patient_sex`),
      replaceStudy: this.db.prepare(`UPDATE studies SET patient_key = @patient_key, study_date = @study_date,
          study_time = @study_time, study_time_n = @study_time_n, accession_number = @accession_number,
          referring_physician_name = @referring_physician_name, study_id = @study_id,
          study_description = @study_description, timezone_offset = @timezone_offset, updated_at = @now
        WHERE study_uid = @study_uid`),
      replaceSeries: this.db.prepare(`UPDATE series SET ${SERIES_ATTRIBUTES_SET}, updated_at = @now WHERE series_uid = @series_uid`),
      // As replaceSeries, but keeping updated_at: the attribute sources are ordered by it (attributeSource).
      refileSeries: this.db.prepare(`UPDATE series SET ${SERIES_ATTRIBUTES_SET} WHERE series_uid = @series_uid`),
      deleteOrphanPatient: this.db.prepare(`DELETE FROM patients WHERE patient_key = @patientKey
        AND NOT EXISTS (SELECT 1 FROM studies WHERE patient_key = @patientKey)`),
    };
  }

  /**
   * Names indexed before they were stored without empty trailing components ('Doe^John^^^=…') are rewritten once,
   * so that an exact search finds them as it finds names indexed since. Recorded in `meta`, so it runs once.
   */
  private normaliseLegacyNames(): void {
    const done = this.db.prepare("SELECT 1 FROM meta WHERE key = 'names-normalised'").get();
    if (done) return;
    this.db.function('mipseg_pn', { deterministic: true }, (name: unknown) =>
      (typeof name === 'string' ? withoutEmptyTrailingComponents(name) : name) as string | null);
    this.db.transaction(() => {
      this.db.exec(`UPDATE patients SET patient_name = mipseg_pn(patient_name) WHERE patient_name <> mipseg_pn(patient_name);
        UPDATE studies SET referring_physician_name = mipseg_pn(referring_physician_name)
          WHERE referring_physician_name <> mipseg_pn(referring_physician_name);
        INSERT INTO meta VALUES ('names-normalised', '1');`);
    })();
  }

  /**
   * Dates indexed in ACR-NEMA's yyyy.mm.dd form before the index normalised them (normaliseDate) are rewritten once,
   * so that a date search and range find them. Recorded in `meta`, so it runs once.
   */
  private normaliseLegacyDates(): void {
    if (this.db.prepare("SELECT 1 FROM meta WHERE key = 'dates-normalised'").get()) return;
    this.db.transaction(() => {
      for (const [table, column] of DATE_COLUMNS) {
        this.db.exec(`UPDATE ${table} SET ${column} = replace(${column}, '.', '')
          WHERE ${column} GLOB '[0-9][0-9][0-9][0-9].[0-9][0-9].[0-9][0-9]'`);
      }
      this.db.exec("INSERT INTO meta VALUES ('dates-normalised', '1')");
    })();
  }

  /**
   * Times indexed in ACR-NEMA's hh:mm:ss form before the index normalised them (normaliseTimeValue) are rewritten once,
   * so that QIDO answers a valid TM. Recorded in `meta`, so it runs once.
   */
  private normaliseLegacyTimes(): void {
    if (this.db.prepare("SELECT 1 FROM meta WHERE key = 'times-normalised'").get()) return;
    this.db.transaction(() => {
      for (const [table, column] of TIME_COLUMNS) {
        const update = this.db.prepare(`UPDATE ${table} SET ${column} = ? WHERE rowid = ?`);
        const legacy = this.db.prepare(`SELECT rowid AS id, ${column} AS tm FROM ${table} WHERE ${column} LIKE '%:%'`).all() as
          { id: number; tm: string }[];
        for (const { id, tm } of legacy) update.run(normaliseTimeValue(tm), id);
      }
      this.db.exec("INSERT INTO meta VALUES ('times-normalised', '1')");
    })();
  }

  /**
   * Studies that an earlier release filed under the one patient it gave every study without a PatientID (key '\'
   * + issuer), whose attributes were the last such study's. None once {@link recordPatientsSeparated} has run.
   */
  studiesOnSharedPatientWithoutId(): string[] {
    if (this.db.prepare(`SELECT 1 FROM meta WHERE key = '${PATIENTS_SEPARATED}'`).get()) return [];
    return this.db.prepare(`SELECT s.study_uid FROM studies s JOIN patients p ON p.patient_key = s.patient_key
      WHERE coalesce(trim(p.patient_id), '') = '' AND s.patient_key <> ? || s.study_uid ORDER BY s.study_uid`)
      .pluck().all(OWN_PATIENT_KEY_PREFIX) as string[];
  }

  /**
   * Files a study under the patient that `header`, one of its instances, names (its own when that has no PatientID),
   * with that instance's patient attributes. Without a header (no instance could be read) under a patient of its own
   * with none: no name is better than another patient's.
   */
  refileStudyPatient(studyUid: string, header: InstanceHeader | undefined): void {
    const row = header ? attributeRow(header) : { patient_key: `${OWN_PATIENT_KEY_PREFIX}${studyUid}`, patient_id: null,
      issuer_of_patient_id: null, patient_name: null, patient_birth_date: null, patient_sex: null };
    this.db.transaction(() => {
      const before = this.stmts.findStudyPatient.get(studyUid) as { patientKey: string } | undefined;
      if (!before) return;
      this.refileStudy(row, before.patientKey, () =>
        this.statements.prepare('UPDATE studies SET patient_key = ? WHERE study_uid = ?').run(row.patient_key, studyUid));
    })();
  }

  /** Records that the studies of {@link studiesOnSharedPatientWithoutId} have each been given their patient. */
  recordPatientsSeparated(): void {
    this.db.prepare(`INSERT OR IGNORE INTO meta VALUES ('${PATIENTS_SEPARATED}', '1')`).run();
  }

  deleteStudy(studyUid: string, patientAfter?: InstanceHeader): number | undefined {
    return this.securelyDeleting(() => {
      const study = this.stmts.findStudyPatient.get(studyUid) as { patientKey: string } | undefined;
      if (!study) return undefined;
      this.statements.prepare('DELETE FROM unheard_instances WHERE sop_instance_uid IN (SELECT sop_instance_uid FROM instances WHERE study_uid = ?)').run(studyUid);
      const { changes } = this.statements.prepare('DELETE FROM instances WHERE study_uid = ?').run(studyUid);
      this.statements.prepare('DELETE FROM series WHERE study_uid = ?').run(studyUid);
      this.removeStudyRow(studyUid, study.patientKey, patientAfter);
      return changes;
    });
  }

  patientSourceWithout(studyUid: string, skip = 0, patientKey?: string): StoredInstance | undefined {
    return this.statements.prepare(`SELECT ${INSTANCE_COLUMNS} FROM
        ${WITH_SERIES_SET_AT}
      WHERE study_uid IN (SELECT study_uid FROM studies
          WHERE patient_key = coalesce(?, (SELECT patient_key FROM studies WHERE study_uid = ?)) AND study_uid <> ?)
      ORDER BY series_set_at DESC, received_at = series_set_at DESC, received_at DESC, sop_instance_uid LIMIT 1 OFFSET ?`)
      .get(patientKey ?? null, studyUid, studyUid, skip) as StoredInstance | undefined;
  }

  /**
   * Of a study, or of every study filed under a patient (and the study itself, which a deletion may be about to move
   * there), leaving out what is being deleted: the instance whose attributes stand after it. Those of the instance
   * that set them last, as putInstance sets them: the first of a new series, or a replacement, each of which stamps
   * its series' updated_at with its own received_at (later instances of a known series set nothing, and stamp nothing).
   */
  seriesSources(studyUid: string, gone: { seriesUid?: string; sopInstanceUid?: string }, exceptSeriesUid?: string): StoredInstance[] {
    return this.statements.prepare(`SELECT ${INSTANCE_COLUMNS} FROM
        (SELECT i.*, se.updated_at AS series_set_at,
          row_number() OVER (PARTITION BY i.series_uid ORDER BY i.received_at = se.updated_at DESC, i.received_at DESC, i.sop_instance_uid) AS nth
        FROM instances i JOIN series se ON se.series_uid = i.series_uid
        WHERE i.study_uid = ? AND i.series_uid <> ? AND i.series_uid <> ? AND i.sop_instance_uid <> ?)
      WHERE nth = 1 ORDER BY series_set_at DESC, series_uid LIMIT ?`)
      .all(studyUid, gone.seriesUid ?? '', exceptSeriesUid ?? '', gone.sopInstanceUid ?? '', SERIES_SOURCES_READ) as StoredInstance[];
  }

  attributeSource(scope: { studyUid: string; patientKey?: string }, gone: { seriesUid?: string; sopInstanceUid?: string }, skip = 0): StoredInstance | undefined {
    return this.statements.prepare(`SELECT ${INSTANCE_COLUMNS} FROM
        ${WITH_SERIES_SET_AT}
      WHERE (study_uid = ? OR study_uid IN (SELECT study_uid FROM studies WHERE patient_key = ?))
        AND series_uid <> ? AND sop_instance_uid <> ?
      ORDER BY series_set_at DESC, received_at = series_set_at DESC, received_at DESC, sop_instance_uid LIMIT 1 OFFSET ?`)
      .get(scope.studyUid, scope.patientKey ?? null, gone.seriesUid ?? '', gone.sopInstanceUid ?? '', skip) as StoredInstance | undefined;
  }

  deleteSeries(studyUid: string, seriesUid: string, remaining?: RemainingHeaders | PatientAfterStudy): number | undefined {
    return this.securelyDeleting(() => {
      const known = this.statements.prepare(`SELECT s.patient_key AS patientKey FROM series se JOIN studies s ON s.study_uid = se.study_uid
        WHERE se.series_uid = ? AND se.study_uid = ?`).get(seriesUid, studyUid) as { patientKey: string } | undefined;
      if (!known) return undefined;
      this.statements.prepare('DELETE FROM unheard_instances WHERE sop_instance_uid IN (SELECT sop_instance_uid FROM instances WHERE series_uid = ?)').run(seriesUid);
      const { changes } = this.statements.prepare('DELETE FROM instances WHERE series_uid = ?').run(seriesUid);
      this.statements.prepare('DELETE FROM series WHERE series_uid = ?').run(seriesUid);
      const left = this.statements.prepare('SELECT 1 FROM series WHERE study_uid = ? LIMIT 1').get(studyUid);
      if (!left) {
        this.removeStudyRow(studyUid, known.patientKey, remaining && 'patientAfter' in remaining ? remaining.patientAfter : undefined);
      } else if (remaining && 'study' in remaining) {
        this.refileAfterDeletion(remaining, known.patientKey);
      }
      return changes;
    });
  }

  deleteInstance(studyUid: string, sopInstanceUid: string, remaining: RemainingHeaders | undefined): boolean {
    return this.securelyDeleting(() => {
      const study = this.stmts.findStudyPatient.get(studyUid) as { patientKey: string } | undefined;
      const { changes } = this.statements.prepare('DELETE FROM instances WHERE sop_instance_uid = ? AND study_uid = ?').run(sopInstanceUid, studyUid);
      if (changes > 0) this.statements.prepare('DELETE FROM unheard_instances WHERE sop_instance_uid = ?').run(sopInstanceUid);
      if (changes === 0 || !study) return undefined;
      if (remaining) this.refileAfterDeletion(remaining, study.patientKey);
      if (remaining?.series) this.stmts.refileSeries.run(attributeRow(remaining.series));
      return changes;
    }) !== undefined;
  }

  /** The study's attributes and its patient's from their sources (see RemainingHeaders). */
  private refileAfterDeletion(remaining: RemainingHeaders, previousKey: string): void {
    const row = mergedRow(remaining.study, remaining.others ?? []);
    const patientRow = remaining.patient && patientKeyOf(remaining.patient) === row.patient_key ? attributeRow(remaining.patient) : row;
    this.refileStudy(patientRow, previousKey, () => this.stmts.replaceStudy.run(row));
  }

  /**
   * Files a study under `row`'s patient, whose attributes `row` sets: `updateStudy` points the study row at it, and the
   * patient it was under goes when no study is left with it. Inside the caller's transaction.
   */
  private refileStudy(row: { readonly patient_key: string }, previousKey: string, updateStudy: () => void): void {
    this.stmts.replacePatient.run(row);
    updateStudy();
    if (row.patient_key !== previousKey) this.stmts.deleteOrphanPatient.run({ patientKey: previousKey });
  }

  /**
   * A study's row, and its patient's when no other study has that patient; one that others keep is set again from
   * `patientAfter` (an instance of those), since what the deleted study set must not outlive it.
   */
  private removeStudyRow(studyUid: string, patientKey: string, patientAfter: InstanceHeader | undefined): void {
    this.statements.prepare('DELETE FROM studies WHERE study_uid = ?').run(studyUid);
    // Set first, then removed if no study is left with it (the other studies deleted meanwhile).
    if (patientAfter && patientKeyOf(patientAfter) === patientKey) this.stmts.replacePatient.run(attributeRow(patientAfter));
    this.stmts.deleteOrphanPatient.run({ patientKey });
  }

  /**
   * Runs a deletion in one transaction with its rows' bytes overwritten: they would otherwise stay readable in free
   * pages and in the WAL. Zeroed (for this transaction only: it costs writes), then the WAL copied into the file and
   * truncated (best effort: a reader holding an old snapshot, a backup say, leaves the WAL to the next checkpoint).
   */
  private securelyDeleting(remove: () => number | undefined): number | undefined {
    this.db.pragma('secure_delete = ON');
    try {
      const instances = this.db.transaction(remove)();
      if (instances !== undefined) this.db.pragma('wal_checkpoint(TRUNCATE)');
      return instances;
    } finally {
      this.db.pragma('secure_delete = OFF');
    }
  }

  findInstance(sopInstanceUid: string): StoredInstance | undefined {
    return this.stmts.findInstance.get(sopInstanceUid) as StoredInstance | undefined;
  }

  rowsSummary(target: { study: string; series?: string; sop?: string }, receivedUpTo = Number.MAX_SAFE_INTEGER): RowsSummary {
    return this.statements.prepare(`SELECT count(*) AS count, coalesce(max(received_at), 0) AS latestReceivedAt FROM instances
      WHERE ${targetWhere(target)} AND study_uid = ? AND received_at <= ?`)
      .get(target.sop ?? target.series ?? target.study, target.study, receivedUpTo) as RowsSummary;
  }

  sourceOfSeries(seriesUid: string, goneSop: string): StoredInstance | undefined {
    return this.statements.prepare(`SELECT ${INSTANCE_COLUMNS} FROM
        ${WITH_SERIES_SET_AT}
      WHERE series_uid = ? AND sop_instance_uid <> ?
      ORDER BY received_at = series_set_at DESC, received_at DESC, sop_instance_uid LIMIT 1`).get(seriesUid, goneSop) as StoredInstance | undefined;
  }

  unheardInstances(): string[] {
    return this.statements.prepare('SELECT sop_instance_uid FROM unheard_instances').pluck().all() as string[];
  }

  setUnheard(sopInstanceUid: string, unheard: boolean): void {
    this.statements.prepare(unheard ? 'INSERT OR IGNORE INTO unheard_instances VALUES (?)' : 'DELETE FROM unheard_instances WHERE sop_instance_uid = ?')
      .run(sopInstanceUid);
  }

  metaValue(key: string): string | undefined {
    return this.statements.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined;
  }

  setMetaValue(key: string, value: string): void {
    this.statements.prepare('INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  findSeriesStudy(seriesUid: string): string | undefined {
    return (this.stmts.findSeriesStudy.get(seriesUid) as { studyUid: string } | undefined)?.studyUid;
  }

  /**
   * Table statistics for SQLite's query planner (ANALYZE, bounded by analysis_limit), where they are missing or the
   * tables have grown well past them. Without them the planner reads a QIDO search by PatientID or PatientName at
   * instance level in instance order and filters at the end: 2.3 s on 1.8 million instances, 2 ms with them.
   */
  private refreshPlannerStatistics(): void {
    try {
      this.db.pragma('analysis_limit = 1000');
      this.db.pragma('optimize = 0x10002');
    } catch {
      // Statistics only speed searches up: an index that cannot be analysed (part of its file corrupted) still opens,
      // and stores, so that /readyz can name it and what it holds stays readable; its own checks say what is wrong.
    }
  }

  /** Instances written since the planner statistics were last refreshed: an index grows from empty while it runs. */
  private writesSinceStatistics = 0;

  putInstance(header: InstanceHeader, file: StoredFile, arrival: InstanceArrival = 'new-series', others: readonly InstanceHeader[] = [],
    ofPatient: readonly InstanceHeader[] = []): void {
    if (++this.writesSinceStatistics >= STATISTICS_REFRESH_WRITES) {
      this.writesSinceStatistics = 0;
      this.refreshPlannerStatistics();
    }
    const received = { ...attributeRow(header), storage_key: file.storageKey, size: file.size, sha256: file.sha256 };
    if (arrival === 'in-known-series') {
      // The series' rows are not written, but the patient is checked all the same: the file would name another
      // patient than the index, and a later replacement or deletion would move the study to it.
      this.db.transaction(() => {
        this.assertStudyPatient(received);
        this.stmts.upsertInstance.run(received);
      })();
      return;
    }
    this.db.transaction(() => {
      // Checked again here, where no other store can come between the check and the write: two instances of one new
      // series sent under two studies at once each passed the archive's check before either row existed.
      const owner = this.findSeriesStudy(received.series_uid);
      if (owner !== undefined && owner !== received.study_uid) {
        throw new MipsegError('MIPSEG_INSTANCE_CONFLICT', `series ${received.series_uid} belongs to study ${owner}`);
      }
      // A replacement is how a PatientID is corrected: it moves the study. Anything new must agree with it.
      if (arrival !== 'replacement') this.assertStudyPatient(received);
      const before = this.stmts.findStudyPatient.get(received.study_uid) as { patientKey: string } | undefined;
      // A new series without a PatientID (a Type 2 attribute sent empty) leaves its study with the patient it has;
      // filing it under a patient of its own would hide the study from a search by that patient's ID.
      const noPatient = arrival === 'new-series' && before !== undefined && isOwnPatientKey(received.patient_key);
      const row = noPatient ? { ...received, patient_key: before.patientKey } : received;
      if (arrival === 'replacement') {
        // A changed copy sets its study's attributes as a correction does, an emptied value included, merged only
        // with the study's other series (mergedRow): what the replaced copy carried does not outlive it.
        const merged = mergedRow(header, others, ofPatient);
        this.stmts.replacePatient.run(merged);
        this.stmts.replaceStudy.run(merged);
        this.stmts.replaceSeries.run(row);
      } else {
        if (!noPatient) this.stmts.upsertPatient.run(row);
        this.stmts.upsertStudy.run(row);
        this.stmts.upsertSeries.run(row);
      }
      this.stmts.upsertInstance.run(row);
      // A corrected PatientID (a replacement), or the first one of a study filed without, moves the study to another
      // patient: the old row, if no study is left with it, would keep a name no search can reach (and that deleting
      // the study would no longer remove).
      if (before && before.patientKey !== row.patient_key) this.stmts.deleteOrphanPatient.run(before);
    })();
  }

  /**
   * Throws MIPSEG_PATIENT_MISMATCH where an instance names a PatientID, and the patient its study is filed under has
   * another (PatientID and IssuerOfPatientID: the patient key). Filed there, it would move the whole study, its
   * results with it, to that patient (QIDO and the worklist would show it there); without a PatientID it says
   * nothing of the patient (Type 2), and a study filed without one may take one. Inside the caller's transaction.
   */
  private assertStudyPatient(received: { readonly patient_key: string; readonly study_uid: string; readonly [column: string]: unknown }): void {
    if (isOwnPatientKey(received.patient_key)) return;
    const filed = this.stmts.findStudyPatientId.get(received.study_uid) as { patientKey: string; id: string | null; issuer: string | null } | undefined;
    if (!filed || filed.patientKey === received.patient_key || String(filed.id ?? '').trim() === '') return;
    const named = (id: unknown, issuer: unknown): string => `${String(id)}${typeof issuer === 'string' && issuer !== '' ? ` (issuer ${issuer})` : ''}`;
    // Both IDs in the first words: a C-STORE ErrorComment keeps 64 characters.
    throw new MipsegError('MIPSEG_PATIENT_MISMATCH', `PatientID ${named(received['patient_id'], received['issuer_of_patient_id'])}, `
      + `the study's ${named(filed.id, filed.issuer)}`);
  }

  listInstances(scope: { studyUid: string; seriesUid?: string; sopInstanceUid?: string }): StoredInstance[] {
    const where = ['study_uid = ?'];
    const params: string[] = [scope.studyUid];
    if (scope.seriesUid) {
      where.push('series_uid = ?');
      params.push(scope.seriesUid);
    }
    if (scope.sopInstanceUid) {
      where.push('sop_instance_uid = ?');
      params.push(scope.sopInstanceUid);
    }
    const sql = `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE ${where.join(' AND ')}
      ORDER BY series_uid, instance_number, sop_instance_uid`;
    return this.statements.prepare(sql).all(...params) as StoredInstance[];
  }

  findRepresentativeInstance(scope: { studyUid: string; seriesUid?: string }): StoredInstance | undefined {
    const sql = scope.seriesUid
      ? `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE series_uid = ? LIMIT 1`
      : `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE study_uid = ? LIMIT 1`;
    return this.statements.prepare(sql).get(scope.seriesUid ?? scope.studyUid) as StoredInstance | undefined;
  }

  search(query: SearchQuery): SearchResult {
    const fragments: SqlFragment[] = query.filters.filter((f) => !matchesAll(f.value)).map(filterFragment);
    const modalities = modalitiesInStudyFragment(query.modalitiesInStudy ?? []);
    if (modalities) fragments.push(modalities);
    for (const groups of query.anyOf ?? []) {
      const either = anyOfFragment(groups);
      if (either) fragments.push(either);
    }
    const where = fragments.map((f) => f.sql);
    const params = fragments.flatMap((f) => f.params);
    const sql = `SELECT ${SELECT_BY_LEVEL[query.level]} FROM ${fromClause(query)}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${ORDER_BY_LEVEL[query.level]} LIMIT ? OFFSET ?`;
    const rows = this.statements.prepare(sql).all(...params, query.limit + 1, query.offset) as SearchRow[];
    const truncated = rows.length > query.limit;
    return { rows: truncated ? rows.slice(0, query.limit) : rows, truncated };
  }

  countInstances(): number {
    return (this.stmts.countInstances.get() as { n: number }).n;
  }

  syncToDisk(): Promise<void> {
    return this.wal.sync();
  }

  storedSopInstanceUids(sopInstanceUids: readonly string[]): Set<string> {
    if (sopInstanceUids.length === 0) return new Set();
    return new Set(this.statements.prepare('SELECT sop_instance_uid FROM instances WHERE sop_instance_uid IN (SELECT value FROM json_each(?))')
      .pluck().all(JSON.stringify(sopInstanceUids)) as string[]);
  }

  close(): void {
    this.db.close();
  }
}
