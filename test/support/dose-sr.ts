/**
 * Radiation dose SR documents as PET/CT scanners send them beside the images, built at test time with dcmtk's
 * dump2dcm from a dump text (no committed binaries): the CT dose report (X-Ray Radiation Dose SR, TID 10011)
 * and the injected-activity report (Radiopharmaceutical Radiation Dose SR, TID 10021). Small, but with the
 * modules of their IODs, so an archive has nothing to refuse but the SOP class.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUid } from '@mipseg/shared/dicom';

const X_RAY_RADIATION_DOSE_SR = '1.2.840.10008.5.1.4.1.1.88.67';
const RADIOPHARMACEUTICAL_RADIATION_DOSE_SR = '1.2.840.10008.5.1.4.1.1.88.68';

export type DoseReportKind = 'x-ray' | 'radiopharmaceutical';

export interface DoseSrOptions {
  readonly studyInstanceUid: string;
  readonly patientId?: string;
  readonly seriesInstanceUid?: string;
  readonly sopInstanceUid?: string;
}

export interface DoseSrInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  /** The PS3.10 file, Explicit VR Little Endian. */
  readonly bytes: Buffer;
}

type Code = readonly [value: string, scheme: string, meaning: string];

const codeItem = ([value, scheme, meaning]: Code): string[] => [
  '(fffe,e000) na',
  `(0008,0100) SH [${value}]`,
  `(0008,0102) SH [${scheme}]`,
  `(0008,0104) LO [${meaning}]`,
  '(fffe,e00d) na',
];

const sequence = (tag: string, items: readonly string[][]): string[] =>
  [`(${tag}) SQ`, ...items.flat(), '(fffe,e0dd) na'];

/** One SR content item; `body` holds its value (code, measurement or children). */
const contentItem = (relationship: string, valueType: string, name: Code, body: string[]): string[] => [
  '(fffe,e000) na',
  `(0040,a010) CS [${relationship}]`,
  `(0040,a040) CS [${valueType}]`,
  ...sequence('0040,a043', [codeItem(name)]),
  ...body,
  '(fffe,e00d) na',
];

const codeValue = (code: Code): string[] => sequence('0040,a168', [codeItem(code)]);

const measurement = (value: string, unit: Code): string[] => sequence('0040,a300', [[
  '(fffe,e000) na',
  ...sequence('0040,08ea', [codeItem(unit)]),
  `(0040,a30a) DS [${value}]`,
  '(fffe,e00d) na',
]]);

const container = (children: readonly string[][]): string[] =>
  ['(0040,a050) CS [SEPARATE]', ...sequence('0040,a730', children)];

interface Report {
  readonly sopClassUid: string;
  readonly title: Code;
  readonly templateId: string;
  readonly manufacturer: string;
  readonly content: readonly string[][];
}

const REPORTS: Record<DoseReportKind, Report> = {
  'x-ray': {
    sopClassUid: X_RAY_RADIATION_DOSE_SR,
    title: ['113701', 'DCM', 'X-Ray Radiation Dose Report'],
    templateId: '10011',
    manufacturer: 'MIPSEG TEST CT',
    content: [
      contentItem('HAS CONCEPT MOD', 'CODE', ['121058', 'DCM', 'Procedure reported'], codeValue(['77477000', 'SCT', 'Computed Tomography X-Ray'])),
      contentItem('CONTAINS', 'CONTAINER', ['113811', 'DCM', 'CT Accumulated Dose Data'], container([
        contentItem('CONTAINS', 'NUM', ['113812', 'DCM', 'Total Number of Irradiation Events'], measurement('1', ['{events}', 'UCUM', 'events'])),
        contentItem('CONTAINS', 'NUM', ['113813', 'DCM', 'CT Dose Length Product Total'], measurement('512.3', ['mGy.cm', 'UCUM', 'mGy.cm'])),
      ])),
    ],
  },
  radiopharmaceutical: {
    sopClassUid: RADIOPHARMACEUTICAL_RADIATION_DOSE_SR,
    title: ['113500', 'DCM', 'Radiopharmaceutical Radiation Dose Report'],
    templateId: '10021',
    manufacturer: 'MIPSEG TEST PET',
    content: [
      contentItem('CONTAINS', 'CONTAINER', ['113502', 'DCM', 'Radiopharmaceutical Administration'], container([
        contentItem('CONTAINS', 'CODE', ['349358000', 'SCT', 'Radiopharmaceutical agent'], codeValue(['35321007', 'SCT', 'Fluorodeoxyglucose F^18^'])),
        contentItem('CONTAINS', 'CODE', ['89457008', 'SCT', 'Radionuclide'], codeValue(['77004003', 'SCT', '^18^Fluorine'])),
        contentItem('CONTAINS', 'NUM', ['113507', 'DCM', 'Administered activity'], measurement('350', ['MBq', 'UCUM', 'MBq'])),
      ])),
    ],
  },
};

function dumpText(report: Report, uids: { study: string; series: string; sop: string }, patientId: string): string {
  return [
    '(0008,0005) CS [ISO_IR 100]',
    '(0008,0020) DA [20240102]',
    '(0008,0023) DA [20240102]',
    '(0008,0030) TM [100000]',
    '(0008,0033) TM [103000]',
    `(0008,0016) UI [${report.sopClassUid}]`,
    `(0008,0018) UI [${uids.sop}]`,
    '(0008,0050) SH [MIPSEG-ACC]',
    '(0008,0060) CS [SR]',
    `(0008,0070) LO [${report.manufacturer}]`,
    '(0008,0090) PN []',
    '(0008,1090) LO [DOSE REPORTER]',
    '(0010,0010) PN [TEST^DOSE]',
    `(0010,0020) LO [${patientId}]`,
    '(0010,0030) DA []',
    '(0010,0040) CS [O]',
    '(0018,1000) LO [0001]',
    '(0018,1020) LO [1.0]',
    `(0020,000d) UI [${uids.study}]`,
    `(0020,000e) UI [${uids.series}]`,
    '(0020,0010) SH [1]',
    '(0020,0011) IS [900]',
    '(0020,0013) IS [1]',
    '(0040,a040) CS [CONTAINER]',
    ...sequence('0040,a043', [codeItem(report.title)]),
    '(0040,a050) CS [SEPARATE]',
    '(0040,a491) CS [COMPLETE]',
    '(0040,a493) CS [UNVERIFIED]',
    ...sequence('0040,a504', [['(fffe,e000) na', '(0008,0105) CS [DCMR]', `(0040,db00) CS [${report.templateId}]`, '(fffe,e00d) na']]),
    ...sequence('0040,a730', [...report.content]),
    ...sequence('0040,a372', []),
    ...sequence('0008,1111', []),
  ].join('\n');
}

/** Builds a dose SR document of the given kind in the given study; throws when dcmtk is missing or refuses it. */
export function buildDoseSr(kind: DoseReportKind, options: DoseSrOptions): DoseSrInstance {
  const report = REPORTS[kind];
  const uids = { study: options.studyInstanceUid, series: options.seriesInstanceUid ?? newUid(), sop: options.sopInstanceUid ?? newUid() };
  const work = mkdtempSync(join(tmpdir(), 'mipseg-dose-sr-'));
  try {
    const dump = join(work, 'report.dump');
    const out = join(work, 'report.dcm');
    writeFileSync(dump, dumpText(report, uids, options.patientId ?? 'MIPSEG-DOSE'));
    const run = spawnSync('dump2dcm', ['+te', dump, out], { encoding: 'utf8', timeout: 60_000 });
    if (run.error) throw new Error(`dump2dcm cannot run (apt-get install dcmtk): ${run.error.message}`);
    if (run.status !== 0) throw new Error(`dump2dcm exited ${run.status}: ${run.stderr}`);
    return { sopClassUid: report.sopClassUid, sopInstanceUid: uids.sop, seriesInstanceUid: uids.series, studyInstanceUid: uids.study, bytes: readFileSync(out) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
