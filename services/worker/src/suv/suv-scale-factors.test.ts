import { isMipsegError, type MipsegError } from '@mipseg/shared/errors';
import { computeSuvScaleFactors } from './suv-scale-factors';
import type { SuvInstanceMetadata } from './suv-instance-metadata';

/** A Siemens-like BQML instance: 70 kg, 350 MBq at 09:00:00, scan at 10:00:00. */
const BQML: SuvInstanceMetadata = {
  sopInstanceUid: '2.25.1',
  units: 'BQML',
  decayCorrection: 'START',
  correctedImage: ['NORM', 'ATTN', 'SCAT', 'DECY'],
  patientWeight: 70,
  patientSize: 1.75,
  patientSex: 'M',
  seriesDate: '20240102',
  seriesTime: '100000',
  acquisitionDate: '20240102',
  acquisitionTime: '100000',
  radiopharmaceuticalStartTime: '090000',
  radiopharmaceuticalStartDateTime: null,
  radionuclideTotalDose: 350e6,
  radionuclideHalfLife: 6586.2,
  frameReferenceTime: null,
  actualFrameDuration: null,
  philipsSuvScaleFactor: null,
  philipsActivityConcentrationScaleFactor: null,
  gePostInjectionDateTime: null,
};

const expectedBqml = 70_000 / (350e6 * 2 ** (-3600 / 6586.2));

function refusal(instances: readonly SuvInstanceMetadata[]): MipsegError {
  try {
    computeSuvScaleFactors(instances);
  } catch (err) {
    if (isMipsegError(err, 'MIPSEG_SUV_UNAVAILABLE')) return err;
    throw err;
  }
  throw new Error('SUV factors were computed');
}

describe('computeSuvScaleFactors', () => {
  test('BQML decay-corrected to the scan start: weight in g over the dose decayed to the series time', () => {
    const factors = computeSuvScaleFactors([BQML, { ...BQML, sopInstanceUid: '2.25.2' }]);
    expect(factors).toHaveLength(2);
    for (const f of factors) expect(f / expectedBqml).toBeCloseTo(1, 9);
  });

  test('RadiopharmaceuticalStartDateTime alone is enough', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, radiopharmaceuticalStartTime: null, radiopharmaceuticalStartDateTime: '20240102090000' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  test('PatientSex O (which calculate-suv rejects for SUVlbm) does not cost the SUVbw', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, patientSex: 'O' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  test('GML is already SUVbw: factor 1 without weight or dose', () => {
    expect(computeSuvScaleFactors([{ ...BQML, units: 'GML', patientWeight: null, radionuclideTotalDose: null }])).toEqual([1]);
  });

  test('DecayCorrection ADMIN divides by the dose as administered', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, decayCorrection: 'ADMIN' }]);
    expect(f).toBeCloseTo(70_000 / 350e6, 15);
  });

  test('Philips CNTS uses the private SUV Scale Factor', () => {
    expect(computeSuvScaleFactors([{ ...BQML, units: 'CNTS', philipsSuvScaleFactor: 0.000551 }])).toEqual([0.000551]);
  });

  test.each([
    ['no PatientWeight', { patientWeight: null }, 'PatientWeight (0010,1030)'],
    ['PatientWeight 0', { patientWeight: 0 }, 'PatientWeight (0010,1030)'],
    ['no RadionuclideTotalDose', { radionuclideTotalDose: null }, 'RadionuclideTotalDose (0018,1074)'],
    ['no injection time', { radiopharmaceuticalStartTime: null }, 'RadiopharmaceuticalStartTime (0018,1072) or RadiopharmaceuticalStartDateTime (0018,1078)'],
    ['no SeriesTime', { seriesTime: null }, 'SeriesTime (0008,0031)'],
    ['no RadionuclideHalfLife', { radionuclideHalfLife: null }, 'RadionuclideHalfLife (0018,1075)'],
  ])('%s is refused, naming the attribute', (_what, change, named) => {
    expect(refusal([{ ...BQML, ...change }]).detail).toContain(`missing ${named}`);
  });

  test('names every missing attribute at once, even when only one instance lacks it', () => {
    const detail = refusal([BQML, { ...BQML, patientWeight: null, radionuclideTotalDose: null }]).detail;
    expect(detail).toContain('PatientWeight (0010,1030)');
    expect(detail).toContain('RadionuclideTotalDose (0018,1074)');
  });

  test.each([
    ['Units PROPCPS', { units: 'PROPCPS' }, /Units \(0054,1001\) is PROPCPS/],
    ['missing Units', { units: null }, /missing Units/],
    ['CNTS without the Philips factors', { units: 'CNTS' }, /Units CNTS without the Philips SUV Scale Factor/],
    ['no attenuation correction', { correctedImage: ['DECY', 'NORM'] }, /ATTN/],
    ['DecayCorrection NONE', { decayCorrection: 'NONE' }, /DecayCorrection \(0054,1102\) is NONE/],
  ])('%s is refused clearly', (_what, change, reason) => {
    expect(refusal([{ ...BQML, ...change }]).detail).toMatch(reason);
  });

  test('an injection after the scan is refused, carrying calculate-suv\'s reason', () => {
    expect(refusal([{ ...BQML, radiopharmaceuticalStartTime: '110000' }]).detail).toMatch(/calculate-suv refused.*less than zero/);
  });
});
