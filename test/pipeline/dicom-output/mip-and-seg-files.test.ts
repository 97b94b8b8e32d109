import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFrameValues, readPixelModule, SopClass } from '@mipseg/shared/dicom';
import {
  readSegMask, readSourceSeriesContext, writeMipInstance, writeSegInstance, type RenderedMip, type SourceSeriesContext, type WrittenInstance,
} from '../../../services/worker/src/dicom-output';
import { dciodvfy, dcmdump, pydicomAvailable, runPythonJson } from '../../support/dicom-tools';
import { PYDICOM_CHECK } from './pydicom-check';
import { writePart10 } from '../../../services/worker/src/dicom-output/part10';
import { ALGORITHM, EQUIPMENT, readNatural, syntheticMip, syntheticPetInstance, syntheticSource, thresholdMask } from './synthetic-source';

interface Written {
  readonly mip: RenderedMip;
  readonly mask: Uint8Array;
  readonly mipOut: WrittenInstance;
  readonly segOut: WrittenInstance;
  readonly emptySegOut: WrittenInstance;
  readonly paths: Record<'mip' | 'seg' | 'emptySeg' | 'mask' | 'suv', string>;
}

function writeAll(dir: string, width: number, height: number): Written {
  const source = syntheticSource();
  const mip = syntheticMip(width, height);
  const mask = thresholdMask(mip);
  const mipOut = writeMipInstance(mip, source, { equipment: EQUIPMENT });
  const image = { ...mipOut, geometry: mip };
  const segOut = writeSegInstance(mask, image, source, { equipment: EQUIPMENT, algorithm: ALGORITHM });
  const emptySegOut = writeSegInstance(new Uint8Array(mask.length), image, source, { equipment: EQUIPMENT, algorithm: ALGORITHM });
  const paths = {
    mip: join(dir, 'mip.dcm'), seg: join(dir, 'seg.dcm'), emptySeg: join(dir, 'seg-empty.dcm'),
    mask: join(dir, 'mask.u8'), suv: join(dir, 'suv.f32'),
  };
  writeFileSync(paths.mip, mipOut.bytes);
  writeFileSync(paths.seg, segOut.bytes);
  writeFileSync(paths.emptySeg, emptySegOut.bytes);
  writeFileSync(paths.mask, mask);
  writeFileSync(paths.suv, new Uint8Array(mip.suv.buffer, mip.suv.byteOffset, mip.suv.byteLength));
  return { mip, mask, mipOut, segOut, emptySegOut, paths };
}

/** Writes an 8×3 MIP and its SEG from `source` into `dir`, and expects dciodvfy to find no error in either. */
function expectValidResults(source: SourceSeriesContext, dir: string): void {
  const mip = syntheticMip(8, 3);
  const mipOut = writeMipInstance(mip, source, { equipment: EQUIPMENT });
  const segOut = writeSegInstance(thresholdMask(mip), { ...mipOut, geometry: mip }, source, { equipment: EQUIPMENT, algorithm: ALGORITHM });
  writeFileSync(join(dir, 'mip.dcm'), mipOut.bytes);
  writeFileSync(join(dir, 'seg.dcm'), segOut.bytes);
  expect(dciodvfy(join(dir, 'mip.dcm')).errors).toEqual([]);
  expect(dciodvfy(join(dir, 'seg.dcm')).errors).toEqual([]);
}

// 37×29 = 1073 pixels (1073 % 8 = 1: the packed frame ends inside a byte); 400×1000 is a DM i AI-sized MIP.
describe.each([[37, 29], [400, 1000]])('a %i×%i MIP and its SEG as files', (width, height) => {
  let dir: string;
  let w: Written;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-dicom-output-'));
    w = writeAll(dir, width, height);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('dciodvfy reports zero errors for the MIP, the SEG and the empty SEG', () => {
    for (const path of [w.paths.mip, w.paths.seg, w.paths.emptySeg]) expect(dciodvfy(path).errors).toEqual([]);
  });

  test('dcmdump reads the MIP and the SEG', () => {
    expect(dcmdump(w.paths.mip)).toMatch(/\(0008,0016\) UI =PositronEmissionTomographyImageStorage/);
    expect(dcmdump(w.paths.seg)).toMatch(/\(0008,0016\) UI =SegmentationStorage/);
  });

  test('pydicom reads both: the SEG unpacks to the mask and the MIP rescales to the SUVs', () => {
    if (!pydicomAvailable()) return;
    const r = runPythonJson(PYDICOM_CHECK, [w.paths.mip, w.paths.seg, w.paths.mask, w.paths.suv]) as Record<string, unknown>;
    expect(r).toMatchObject({
      mipSopClass: SopClass.PositronEmissionTomographyImageStorage,
      segSopClass: SopClass.SegmentationStorage,
      mipShape: [height, width],
      segShape: [height, width],
      segEqualsMask: true,
      units: 'GML',
      segRefersTo: w.mipOut.sopInstanceUid,
    });
    expect(r['segOnes']).toBe(r['maskOnes']);
    expect(r['suvMaxError'] as number).toBeLessThanOrEqual((r['rescaleSlope'] as number) / 2 + 1e-5);
  });

  test('dcmjs reads both, and the SEG references the MIP instance and series', () => {
    const mip = readNatural(w.mipOut.bytes);
    const seg = readNatural(w.segOut.bytes);
    expect(mip['SOPInstanceUID']).toBe(w.mipOut.sopInstanceUid);
    const refSeries = seg['ReferencedSeriesSequence'];
    expect(refSeries).toHaveLength(1);
    expect(refSeries[0]['SeriesInstanceUID']).toBe(w.mipOut.seriesInstanceUid);
    expect(refSeries[0]['ReferencedInstanceSequence'][0]).toMatchObject({
      ReferencedSOPClassUID: w.mipOut.sopClassUid, ReferencedSOPInstanceUID: w.mipOut.sopInstanceUid,
    });
    const derivation = seg['PerFrameFunctionalGroupsSequence'][0]['DerivationImageSequence'][0];
    expect(derivation['SourceImageSequence'][0]['ReferencedSOPInstanceUID']).toBe(w.mipOut.sopInstanceUid);
    expect(seg['FrameOfReferenceUID']).toBe(mip['FrameOfReferenceUID']);
    expect(seg['PerFrameFunctionalGroupsSequence'][0]['PlanePositionSequence'][0]['ImagePositionPatient'])
      .toEqual(mip['ImagePositionPatient']);
  });

  test('readSegMask gives back the mask exactly, and an empty mask as all zeros', () => {
    const back = readSegMask(w.segOut.bytes);
    expect([back.width, back.height]).toEqual([width, height]);
    expect(Buffer.from(back.mask).equals(Buffer.from(w.mask))).toBe(true);
    expect(readSegMask(w.emptySegOut.bytes).mask.some((v) => v !== 0)).toBe(false);
  });

  test('the stored MIP values × RescaleSlope give the SUVs back within half a slope', () => {
    const module = readPixelModule(w.mipOut.bytes);
    const stored = readFrameValues(w.mipOut.bytes, module, 1);
    let worst = 0;
    for (let i = 0; i < stored.length; i++) {
      worst = Math.max(worst, Math.abs((stored[i] as number) * module.rescaleSlope - (w.mip.suv[i] as number)));
    }
    expect(module.rescaleIntercept).toBe(0);
    expect(worst).toBeLessThanOrEqual(module.rescaleSlope / 2 + 1e-5);
  });
});

describe('a sparse source series', () => {
  test('with its Type 2 and optional values empty still gives a MIP and SEG with zero dciodvfy errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-sparse-source-'));
    try {
      const sparse = {
        ...syntheticSource(1), PatientName: '', PatientBirthDate: '', PatientSex: '', PatientAge: '', PatientSize: null,
        PatientWeight: null, StudyID: '', AccessionNumber: '', StudyDescription: '', Manufacturer: '',
        ManufacturerModelName: '', CollimatorType: '', CorrectedImage: [], AcquisitionDate: '', AcquisitionTime: '',
        ActualFrameDuration: null, ReconstructionMethod: '', SeriesType: [], RadiopharmaceuticalInformationSequence: [],
        DecayCorrection: 'NONE',
      };
      expectValidResults(sparse, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the dciodvfy check', () => {
  test('is not vacuous: a MIP without Units and a SEG without SegmentSequence get errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-dciodvfy-broken-'));
    try {
      const w = writeAll(dir, 9, 7);
      const mip = readNatural(w.mipOut.bytes);
      delete mip['Units'];
      const seg = readNatural(w.segOut.bytes);
      delete seg['SegmentSequence'];
      writeFileSync(join(dir, 'broken-mip.dcm'), writePart10(mip));
      writeFileSync(join(dir, 'broken-seg.dcm'), writePart10(seg));
      expect(dciodvfy(join(dir, 'broken-mip.dcm')).errors.join('\n')).toMatch(/Units/);
      expect(dciodvfy(join(dir, 'broken-seg.dcm')).errors.join('\n')).toMatch(/SegmentSequence/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a source whose sequences break their macros', () => {
  test('gives results without the incomplete items, with zero dciodvfy errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-broken-macros-'));
    try {
      const procedure = { CodeValue: 'PETCT-WB', CodingSchemeDesignator: 'LOCAL', CodeMeaning: 'PET/CT whole body' };
      const source = readSourceSeriesContext([syntheticPetInstance({
        sopInstanceUid: '2.25.1.9',
        extra: {
          // A person code with a value only, and no institution (a real GE file, fo-dicom GH610, has this).
          ReferringPhysicianIdentificationSequence: [{ PersonIdentificationCodeSequence: [{ CodeValue: '12345' }] }],
          ProcedureCodeSequence: [{ CodeValue: 'X', CodingSchemeDesignator: 'LOCAL' }, procedure],
          RadiopharmaceuticalInformationSequence: [{ Radiopharmaceutical: 'Fluorodeoxyglucose', RadiopharmaceuticalStartTime: '080000',
            RadionuclideTotalDose: '350000000', RadionuclideHalfLife: '6586.2' }],
        },
      })]);
      expect(source.carriedPatientAndStudy['ReferringPhysicianIdentificationSequence']).toBeUndefined();
      expect(source.carriedPatientAndStudy['ProcedureCodeSequence']).toEqual([expect.objectContaining(procedure)]);
      expect(source.RadiopharmaceuticalInformationSequence[0]?.['RadionuclideCodeSequence']).toEqual([]);
      expectValidResults(source, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a source whose values are longer than their VRs allow', () => {
  const write = (source: SourceSeriesContext, dir: string) => {
    const mip = syntheticMip(8, 3);
    const mipOut = writeMipInstance(mip, source, { equipment: EQUIPMENT });
    const segOut = writeSegInstance(thresholdMask(mip), { ...mipOut, geometry: mip }, source, { equipment: EQUIPMENT, algorithm: ALGORITHM });
    writeFileSync(join(dir, 'mip.dcm'), mipOut.bytes);
    writeFileSync(join(dir, 'seg.dcm'), segOut.bytes);
    return { mipOut, segOut, errors: [...dciodvfy(join(dir, 'mip.dcm')).errors, ...dciodvfy(join(dir, 'seg.dcm')).errors] };
  };

  test('gives its descriptive text cut to the VR\'s length (in characters and in UTF-8 bytes), with zero dciodvfy errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-long-text-'));
    try {
      const base = syntheticSource();
      const [radiopharmaceutical] = base.RadiopharmaceuticalInformationSequence;
      const source = {
        ...base, StudyDescription: 'D'.repeat(70),
        RadiopharmaceuticalInformationSequence: [{ ...radiopharmaceutical, Radiopharmaceutical: 'Fluorodeoxyglucose '.repeat(4),
          RadionuclideCodeSequence: [{ CodeValue: '77004003', CodingSchemeDesignator: 'SCT', CodeMeaning: `^18^Fluorine ${'F'.repeat(60)}` }] }],
        carriedPatientAndStudy: { AdmittingDiagnosesDescription: ['ü'.repeat(40)] },
      };
      const { mipOut, segOut, errors } = write(source, dir);
      expect(errors).toEqual([]);
      const mip = readNatural(mipOut.bytes);
      expect(mip['StudyDescription']).toBe('D'.repeat(64));
      expect(readNatural(segOut.bytes)['StudyDescription']).toBe('D'.repeat(64));
      expect(mip['RadiopharmaceuticalInformationSequence'][0]['Radiopharmaceutical']).toBe('Fluorodeoxyglucose '.repeat(4).slice(0, 64).trimEnd());
      expect(mip['RadiopharmaceuticalInformationSequence'][0]['RadionuclideCodeSequence'][0]['CodeMeaning']).toHaveLength(64);
      // 32 two-byte characters: 64 bytes, as dciodvfy counts LO even in UTF-8.
      expect(mip['AdmittingDiagnosesDescription']).toBe('ü'.repeat(32));
      expect([mipOut.overlongIdentifiers, segOut.overlongIdentifiers]).toEqual([[], []]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Cut, they would no longer match the patient and the order the result belongs to in the PACS and the RIS.
  test('keeps the identifiers that tie the result to its patient and order byte for byte, and names them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-long-identifiers-'));
    try {
      const ids = { PatientID: 'P'.repeat(70), IssuerOfPatientID: 'I'.repeat(65), AccessionNumber: 'A'.repeat(17), StudyID: 'S'.repeat(20) };
      const source = { ...syntheticSource(), ...ids, carriedPatientAndStudy: { OtherPatientIDsSequence: [{ PatientID: 'O'.repeat(65), TypeOfPatientID: 'TEXT' }] } };
      const { mipOut, segOut, errors } = write(source, dir);
      for (const out of [mipOut, segOut]) {
        const ds = readNatural(out.bytes);
        expect([ds['PatientID'], ds['IssuerOfPatientID'], ds['AccessionNumber'], ds['StudyID']]).toEqual(Object.values(ids));
        expect(ds['OtherPatientIDsSequence'][0]['PatientID']).toBe('O'.repeat(65));
        expect([...out.overlongIdentifiers].sort()).toEqual(
          ['AccessionNumber', 'IssuerOfPatientID', 'OtherPatientIDsSequence > PatientID', 'PatientID', 'StudyID']);
      }
      // dciodvfy says of each result what it says of the source: these lengths (and its summary of them), nothing else.
      const lengthErrors = errors.filter((e) => /Length invalid for this VR/.test(e));
      const named = ['Accession Number', 'Issuer of Patient ID', 'Patient ID', 'Patient ID', 'Study ID'];
      expect(lengthErrors.map((e) => /\) (?:LO|SH) ([A-Za-z ]+?)\s+(?:LO|SH) \[/.exec(e)?.[1]).sort()).toEqual([...named, ...named].sort());
      expect(errors.filter((e) => !lengthErrors.includes(e) && !/invalid data values for Value Representations/.test(e))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
