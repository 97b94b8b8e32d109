import { spawnSync } from 'node:child_process';
import { isMipsegError, type MipsegError } from '@mipseg/shared/errors';
import { computeSuvScaleFactors } from './suv-scale-factors';
import type { SuvInstanceMetadata } from './suv-instance-metadata';

/** A Siemens-like BQML instance: 70 kg, 350 MBq at 09:00:00, scan at 10:00:00. */
const BQML: SuvInstanceMetadata = {
  sopInstanceUid: '2.25.1',
  units: 'BQML',
  suvType: null,
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
  timezoneOffsetFromUtc: null,
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

  test('lower-case code strings (Units bqml, CorrectedImage attn, DecayCorrection start) are read as their upper case', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, units: 'bqml', decayCorrection: 'start', correctedImage: ['attn', 'decy'] }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  test('GML is already SUVbw: factor 1 without weight or dose', () => {
    expect(computeSuvScaleFactors([{ ...BQML, units: 'GML', patientWeight: null, radionuclideTotalDose: null }])).toEqual([1]);
    expect(computeSuvScaleFactors([{ ...BQML, units: 'GML', suvType: 'BW' }])).toEqual([1]);
  });

  test('GML of another SUV type (lean body mass, body surface area) is refused, naming SUVType', () => {
    for (const suvType of ['LBM', 'BSA', 'IBW']) {
      expect(refusal([{ ...BQML, units: 'GML', suvType }]).detail).toMatch(new RegExp(`SUVType \\(0054,1006\\) ${suvType}`));
    }
  });

  test('DecayCorrection ADMIN divides by the dose as administered', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, decayCorrection: 'ADMIN' }]);
    expect(f).toBeCloseTo(70_000 / 350e6, 15);
  });

  test('Philips CNTS uses the private SUV Scale Factor', () => {
    expect(computeSuvScaleFactors([{ ...BQML, units: 'CNTS', philipsSuvScaleFactor: 0.000551 }])).toEqual([0.000551]);
  });

  // The scanner's factor has the decay in it already: refusing such a series for its timing attributes cost its result.
  test('Philips CNTS with its SUV Scale Factor needs no decay attributes, whatever DecayCorrection says', () => {
    const cnts = { ...BQML, units: 'CNTS', philipsSuvScaleFactor: 0.000551, decayCorrection: 'ADMIN', radiopharmaceuticalStartTime: null,
      radionuclideHalfLife: null, seriesTime: null };
    expect(computeSuvScaleFactors([cnts, { ...cnts, philipsSuvScaleFactor: 0.000552 }])).toEqual([0.000551, 0.000552]);
  });

  // The factor is weight over decayed dose, as the scanner had them: a de-identified series (PS3.15's basic profile
  // removes PatientWeight) or one without the dose still has its SUVbw.
  test('Philips CNTS with its SUV Scale Factor needs neither PatientWeight nor RadionuclideTotalDose, which the factor holds', () => {
    const cnts = { ...BQML, units: 'CNTS', philipsSuvScaleFactor: 0.000551 };
    expect(computeSuvScaleFactors([{ ...cnts, patientWeight: null }])).toEqual([0.000551]);
    expect(computeSuvScaleFactors([{ ...cnts, radionuclideTotalDose: null }])).toEqual([0.000551]);
    expect(computeSuvScaleFactors([{ ...cnts, patientWeight: 0, radionuclideTotalDose: null }])).toEqual([0.000551]);
  });

  test('Philips CNTS with its SUV Scale Factor beside an implausible weight is refused: the scanner made the factor from it', () => {
    const cnts = { ...BQML, units: 'CNTS', philipsSuvScaleFactor: 0.000551 };
    expect(refusal([{ ...cnts, patientWeight: 70_000 }]).detail).toMatch(/PatientWeight \(0010,1030\) is 70000 kg/);
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

  test.each([
    ['PatientWeight in grams', { patientWeight: 70_000 }, 'PatientWeight (0010,1030) is 70000 kg: outside the plausible 0.5–500 kg'],
    ['PatientWeight below a newborn\'s', { patientWeight: 0.07 }, 'PatientWeight (0010,1030) is 0.07 kg'],
    ['RadionuclideTotalDose in MBq', { radionuclideTotalDose: 350 }, 'RadionuclideTotalDose (0018,1074) is 350 Bq: outside the plausible 1 MBq–20 GBq'],
    ['RadionuclideTotalDose beyond any clinical activity', { radionuclideTotalDose: 350e9 }, 'RadionuclideTotalDose (0018,1074) is 350000000000 Bq'],
  ])('%s is refused as implausible, naming the attribute and the value', (_what, change, named) => {
    expect(refusal([{ ...BQML, ...change }]).detail).toContain(named);
    expect(refusal([{ ...BQML, ...change, decayCorrection: 'ADMIN' }]).detail).toContain(named);
  });

  test('the bounds of the plausible weight and dose are accepted', () => {
    expect(() => computeSuvScaleFactors([{ ...BQML, patientWeight: 0.5, radionuclideTotalDose: 20e9 }])).not.toThrow();
    expect(() => computeSuvScaleFactors([{ ...BQML, patientWeight: 500, radionuclideTotalDose: 1e6 }])).not.toThrow();
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

  /** The factor for an uptake of `seconds` with BQML's weight, dose and half-life. */
  const afterUptake = (seconds: number): number => 70_000 / (350e6 * 2 ** (-seconds / 6586.2));

  test('an injection at 23:35 with only a StartTime, scanned at 00:20 the next day, is dated the day before', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, seriesDate: '20240103', seriesTime: '002000', acquisitionDate: '20240103',
      acquisitionTime: '002000', radiopharmaceuticalStartTime: '233500' }]);
    expect((f as number) / afterUptake(45 * 60)).toBeCloseTo(1, 9);
  });

  test('a series re-processed on a later day dates a StartTime-only injection on the day of its acquisition', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, seriesDate: '20240105', seriesTime: '140000' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  test('a re-processed GE series dates the injection on the day of GE\'s private scan start', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, seriesDate: '20240105', seriesTime: '140000', acquisitionTime: '101500',
      gePostInjectionDateTime: '20240102100000.00' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  test('an injection recorded minutes after the scan (clock skew) is refused, not taken as a 23.9 h uptake', () => {
    const detail = refusal([{ ...BQML, radiopharmaceuticalStartTime: '100500' }]).detail;
    expect(detail).toContain('RadiopharmaceuticalStartTime (0018,1072) 100500 (the day before the scan)');
    expect(detail).toMatch(/uptake time 23\.92 h .* 13\.1 half-lives/);
  });

  test.each([
    ['after the scan', '20240102110000', /RadiopharmaceuticalStartDateTime \(0018,1078\) 20240102110000.* is 1\.00 h after the scan start/],
    ['dated a day early', '20240101090000', /RadiopharmaceuticalStartDateTime \(0018,1078\) 20240101090000.* 13\.7 half-lives/],
  ])('a RadiopharmaceuticalStartDateTime %s is refused, naming it', (_what, dateTime, reason) => {
    expect(refusal([{ ...BQML, radiopharmaceuticalStartDateTime: dateTime }]).detail).toMatch(reason);
  });

  test('a RadiopharmaceuticalStartDateTime that cannot be read gives way to a valid StartTime; without one it is refused, naming it', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, radiopharmaceuticalStartDateTime: '20240102' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
    expect(refusal([{ ...BQML, radiopharmaceuticalStartDateTime: '20240102', radiopharmaceuticalStartTime: null }]).detail)
      .toMatch(/RadiopharmaceuticalStartDateTime \(0018,1078\) 20240102 is not a valid date and time/);
  });

  test('an injection logged in UTC beside a scanner on local time is moved to the scanner\'s zone', () => {
    // 08:00 UTC is 09:00 at +0100: one hour before the 10:00 scan, as in the base case.
    const [f] = computeSuvScaleFactors([{ ...BQML, timezoneOffsetFromUtc: '+0100', radiopharmaceuticalStartTime: null,
      radiopharmaceuticalStartDateTime: '20240102080000+0000' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
    // Across midnight and a negative zone: 2024-01-03 03:00 UTC is 2024-01-02 22:00 at -0500; scanned 23:00.
    const [g] = computeSuvScaleFactors([{ ...BQML, timezoneOffsetFromUtc: '-0500', seriesTime: '230000', acquisitionTime: '230000',
      radiopharmaceuticalStartTime: null, radiopharmaceuticalStartDateTime: '20240103030000.5+0000' }]);
    expect((g as number) / afterUptake(3600 - 0.5)).toBeCloseTo(1, 9);
  });

  test('GE\'s private scan start with a UTC offset is decayed to as moved to the scanner\'s zone', () => {
    // A series re-processed later: GE's time decides. 09:00 UTC is 10:00 at +0100, one hour after the 09:00 injection.
    const [f] = computeSuvScaleFactors([{ ...BQML, timezoneOffsetFromUtc: '+0100', seriesDate: '20240105', seriesTime: '140000',
      acquisitionTime: '101500', gePostInjectionDateTime: '20240102090000+0000' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  test('a DT offset is read as the scanner\'s own where the instance gives the same TimezoneOffsetFromUTC', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, timezoneOffsetFromUtc: '+0200', radiopharmaceuticalStartTime: null,
      radiopharmaceuticalStartDateTime: '20240102090000+0200' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 9);
  });

  describe('where the instance gives no TimezoneOffsetFromUTC (each case in a node child: TZ is read at its start)', () => {
    /** The factors (or the refusal's message) computed in a node child whose TZ is `tz`, or unset. */
    const factorsWith = (tz: string | undefined, instance: SuvInstanceMetadata): { factor?: number; refused?: string } => {
      const script = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
const { computeSuvScaleFactors } = require(${JSON.stringify(require.resolve('./suv-scale-factors'))});
let out; try { out = { factor: computeSuvScaleFactors([${JSON.stringify(instance)}])[0] }; } catch (e) { out = { refused: e.message }; }
process.stdout.write(JSON.stringify(out));`;
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env['TZ'];
      if (tz !== undefined) env['TZ'] = tz;
      const run = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout) as { factor?: number; refused?: string };
    };
    const injectedAt = (dateTime: string): SuvInstanceMetadata =>
      ({ ...BQML, timezoneOffsetFromUtc: null, radiopharmaceuticalStartTime: null, radiopharmaceuticalStartDateTime: dateTime });

    test('a DT offset is read as the scanner\'s own while TZ is not set (the scanner\'s zone is unknown)', () => {
      expect((factorsWith(undefined, injectedAt('20240102090000+0200')).factor as number) / expectedBqml).toBeCloseTo(1, 9);
    });

    test('a DT in UTC is moved to the site\'s zone that TZ names, summer time included', () => {
      // 08:00 UTC is 09:00 in Copenhagen in January, one hour before the 10:00 scan; in July 10:00 is 08:00 UTC.
      expect((factorsWith('Europe/Copenhagen', injectedAt('20240102080000+0000')).factor as number) / expectedBqml).toBeCloseTo(1, 9);
      const july = { ...injectedAt('20240702070000+0000'), seriesDate: '20240702', acquisitionDate: '20240702' };
      expect((factorsWith('Europe/Copenhagen', july).factor as number) / expectedBqml).toBeCloseTo(1, 9);
      // Already in the site's zone: read as written.
      expect((factorsWith('Europe/Copenhagen', injectedAt('20240102090000+0100')).factor as number) / expectedBqml).toBeCloseTo(1, 9);
    });

    test('a refusal names the site\'s zone the DT was moved to', () => {
      expect(factorsWith('Europe/Copenhagen', injectedAt('20240102100000+0000')).refused)
        .toMatch(/20240102100000\+0000 \(UTC\+0000, moved to the site's zone, TZ Europe\/Copenhagen at UTC\+0100: the instance gives no TimezoneOffsetFromUTC\), taken as 20240102 110000/);
    });
  });

  test('the refusal of an implausible injection names the zone it was moved from', () => {
    expect(refusal([{ ...BQML, timezoneOffsetFromUtc: '+0100', radiopharmaceuticalStartTime: null,
      radiopharmaceuticalStartDateTime: '20240102100000+0000' }]).detail)
      .toMatch(/20240102100000\+0000 \(UTC\+0000, moved to TimezoneOffsetFromUTC \+0100\), taken as 20240102 110000, is 1\.00 h after/);
  });

  test('a long-lived tracer imaged days after injection (Zr-89, day 7) is accepted', () => {
    const zr89HalfLife = 78.41 * 3600;
    const [f] = computeSuvScaleFactors([{ ...BQML, radionuclideHalfLife: zr89HalfLife, radionuclideTotalDose: 37e6,
      radiopharmaceuticalStartTime: null, radiopharmaceuticalStartDateTime: '20231226100000' }]);
    expect((f as number) / (70_000 / (37e6 * 2 ** (-7 * 86_400 / zr89HalfLife)))).toBeCloseTo(1, 9);
  });

  test('dates and times in ACR-NEMA form (yyyy.mm.dd, hh:mm:ss), which PS3.5 6.2 has readers accept, give the same factor', () => {
    const [f] = computeSuvScaleFactors([{ ...BQML, seriesDate: '2024.01.02', seriesTime: '10:00:00',
      acquisitionDate: '2024.01.02', acquisitionTime: '10:00:00.000', radiopharmaceuticalStartTime: '09:00' }]);
    expect((f as number) / expectedBqml).toBeCloseTo(1, 12);
  });

  test('a SeriesDate that is not a date is refused, naming it', () => {
    expect(refusal([{ ...BQML, seriesDate: '20240230' }]).detail).toMatch(/SeriesDate\/SeriesTime \(0008,0021\/0031\) 20240230 100000 is not a valid/);
  });
});
