import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMipsegError, type ErrorCode } from '@mipseg/shared/errors';
import { readPetSeriesHeader, selectPetSeries } from '../../../services/worker/src/selection';
import { computeSuvScaleFactors, readSuvInstanceMetadata } from '../../../services/worker/src/suv';
import { describeWithSharedData, sharedData } from '../../support/shared-data';

const SINGLES = 'data/pet-dicom/singles';

/** SUVbw factor of a BQML instance: weight (g) / (dose decayed over `seconds`). */
const bqmlFactor = (kg: number, dose: number, seconds: number, halfLife: number): number =>
  (kg * 1000) / (dose * 2 ** (-seconds / halfLife));

interface Expectation {
  /**
   * Rules the series fails on its header alone (the slice count is set aside: each is one instance, judged as if
   * its NumberOfSlices had arrived). Two name no tracer at all (the suyashkumar files are from an FLT trial).
   */
  readonly failedRules: readonly string[];
  /** The SUVbw factor, or the refusal's code and a word its message must contain. */
  readonly suv: number | 'positive' | { readonly code: ErrorCode; readonly names: string };
}

const EXPECTED: Readonly<Record<string, Expectation>> = {
  'dicomweb-client-sample.dcm': { failedRules: ['fdg'], suv: bqmlFactor(66.2, 381_470_000, 5024.678, 6586.2) },
  'fo-dicom-GH184.dcm': { failedRules: [], suv: bqmlFactor(90, 474_592_928, 5316, 6588) },
  'fo-dicom-GH610.dcm': {
    failedRules: ['attenuation-and-decay-corrected'],
    suv: { code: 'MIPSEG_SUV_UNAVAILABLE', names: 'Units (0054,1001) is PROPCPS' },
  },
  'orthanc-tests-2020-11-16-SalimKanounAnonymization.dcm': { failedRules: [], suv: bqmlFactor(82, 290e6, 4338, 6586.2) },
  'orthanc-tests-Issue94.dcm': { failedRules: [], suv: { code: 'MIPSEG_SUV_UNAVAILABLE', names: 'PatientWeight (0010,1030)' } },
  'suyashkumar-dicom-1.dcm': { failedRules: ['fdg'], suv: 'positive' },
  // A dynamic scan of one bed position: under the 500 mm a whole-body MIP needs too.
  'suyashkumar-dicom-2.dcm': { failedRules: ['static-or-whole-body', 'fdg', 'whole-body-coverage'], suv: 'positive' },
};

function suvOutcome(bytes: Uint8Array): number | string {
  try {
    const [factor] = computeSuvScaleFactors([readSuvInstanceMetadata(bytes)]);
    return factor as number;
  } catch (err) {
    if (isMipsegError(err)) return `${err.code}: ${err.detail}`;
    throw err;
  }
}

describeWithSharedData(SINGLES)('vendor PET singles: each is handled or refused with a reason', () => {
  const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(sharedData(SINGLES).path, name)));

  test.each(Object.entries(EXPECTED))('%s', (name, expected) => {
    const bytes = read(name);
    const header = readPetSeriesHeader(bytes);
    const selection = selectPetSeries([{ header, instanceCount: header.numberOfSlices ?? 1 }], { minSlices: 1 });
    expect(selection.verdicts[0]?.failures.map((f) => f.ruleId)).toEqual(expected.failedRules);
    const outcome = suvOutcome(bytes);
    if (typeof expected.suv === 'number') expect((outcome as number) / expected.suv).toBeCloseTo(1, 6);
    else if (expected.suv === 'positive') expect(outcome).toBeGreaterThan(0);
    else expect(outcome).toMatch(new RegExp(`^${expected.suv.code}: .*${expected.suv.names.replace(/[()]/g, '\\$&')}`));
  });

  test('a file without File Meta Information (Philips PrivateMDNTags) is refused as unparseable, as ingest does', () => {
    let refusal: unknown;
    try {
      readPetSeriesHeader(read('orthanc-tests-PrivateMDNTags.dcm'));
    } catch (err) {
      refusal = err;
    }
    expect(isMipsegError(refusal, 'MIPSEG_DICOM_UNPARSEABLE')).toBe(true);
  });

  test('the GE private scan date-time (GEMS_PETD_01 0009,xx0D) is read for calculate-suv', () => {
    expect(readSuvInstanceMetadata(read('fo-dicom-GH184.dcm')).gePostInjectionDateTime).toBe('20141023110036.00');
  });
});
