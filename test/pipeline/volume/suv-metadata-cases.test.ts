import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { computeSuvScaleFactors, type SuvInstanceMetadata } from '../../../services/worker/src/suv';
import { describeWithSharedData, sharedData } from '../../support/shared-data';

const CASES = 'data/suv-metadata';

/** One instance as the calculate-suv test data gives it: DICOM keywords, numbers sometimes as strings. */
type CaseInstance = Readonly<Record<string, unknown>>;

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
const number = (v: unknown): number | null => (v === undefined || v === null || v === '' ? null : Number(v));

function toMetadata(i: CaseInstance, index: number): SuvInstanceMetadata {
  const philips = (i['PhilipsPETPrivateGroup'] ?? {}) as Record<string, unknown>;
  const corrected = i['CorrectedImage'];
  return {
    sopInstanceUid: `2.25.${index + 1}`,
    units: text(i['Units']),
    suvType: text(i['SUVType']),
    decayCorrection: text(i['DecayCorrection']),
    correctedImage: Array.isArray(corrected) ? corrected.map(String) : typeof corrected === 'string' ? corrected.split('\\') : [],
    patientWeight: number(i['PatientWeight']),
    patientSize: number(i['PatientSize']),
    patientSex: text(i['PatientSex']),
    seriesDate: text(i['SeriesDate']),
    seriesTime: text(i['SeriesTime']),
    acquisitionDate: text(i['AcquisitionDate']),
    acquisitionTime: text(i['AcquisitionTime']),
    radiopharmaceuticalStartTime: text(i['RadiopharmaceuticalStartTime']),
    radiopharmaceuticalStartDateTime: text(i['RadiopharmaceuticalStartDateTime']),
    timezoneOffsetFromUtc: text(i['TimezoneOffsetFromUTC']),
    radionuclideTotalDose: number(i['RadionuclideTotalDose']),
    radionuclideHalfLife: number(i['RadionuclideHalfLife']),
    frameReferenceTime: number(i['FrameReferenceTime']),
    actualFrameDuration: number(i['ActualFrameDuration']),
    philipsSuvScaleFactor: number(philips['SUVScaleFactor']),
    philipsActivityConcentrationScaleFactor: number(philips['ActivityConcentrationScaleFactor']),
    gePostInjectionDateTime: text(i['GEPrivatePostInjectionDateTime']),
  };
}

describeWithSharedData(CASES)('SUVbw factors of the calculate-suv vendor cases', () => {
  const dir = sharedData(CASES).path;
  const expected = JSON.parse(readFileSync(join(dir, 'expected-suvbw-factors.json'), 'utf8')) as Record<string, unknown>;
  const cases = readdirSync(dir).filter((f) => f.endsWith('-instances.json')).map((f) => f.replace(/-instances\.json$/, ''));

  test('every case has an expected factor', () => {
    expect(cases.sort()).toEqual(Object.keys(expected).filter((k) => !k.startsWith('_')).sort());
  });

  test.each(cases)('%s', (name) => {
    const instances = JSON.parse(readFileSync(join(dir, `${name}-instances.json`), 'utf8')) as CaseInstance[];
    const factors = computeSuvScaleFactors(instances.map(toMetadata));
    expect(factors).toHaveLength(instances.length);
    for (const f of factors) expect(f / (expected[name] as number)).toBeCloseTo(1, 12);
  });
});
