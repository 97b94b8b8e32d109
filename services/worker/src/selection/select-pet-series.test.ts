import { MIPSEG_MANUFACTURER, SopClass } from '@mipseg/shared/dicom';
import { SERIES_ELIGIBILITY_RULES } from './eligibility-rules';
import type { PetSeriesCandidate, PetSeriesHeader } from './pet-series-header';
import { selectPetSeries, type PetSeriesSelection } from './select-pet-series';

const WHOLE_BODY_PET: PetSeriesHeader = {
  seriesInstanceUid: '2.25.10',
  seriesNumber: 3,
  seriesDescription: 'PET AC',
  modality: 'PT',
  sopClassUid: SopClass.PositronEmissionTomographyImageStorage,
  imageType: ['ORIGINAL', 'PRIMARY'],
  correctedImage: ['DECY', 'ATTN', 'SCAT', 'NORM'],
  seriesType: ['WHOLE BODY', 'IMAGE'],
  manufacturer: 'GE MEDICAL SYSTEMS',
  softwareVersions: ['36.14'],
  numberOfFrames: 1,
  numberOfSlices: 267,
  sliceSpacingMm: 3.27,
  radiopharmaceutical: { name: 'FDG -- fluorodeoxyglucose', code: { value: 'C-B1031', scheme: 'SRT', meaning: 'Fluorodeoxyglucose F^18^' } },
};

const TRACER = (name: string | null, code: PetSeriesHeader['radiopharmaceutical']['code'] = null) => ({ radiopharmaceutical: { name, code } });

const series = (header: Partial<PetSeriesHeader>, instanceCount = 267): PetSeriesCandidate =>
  ({ header: { ...WHOLE_BODY_PET, ...header }, instanceCount });

function failedRules(selection: PetSeriesSelection, uid: string): string[] {
  return selection.verdicts.find((v) => v.seriesInstanceUid === uid)?.failures.map((f) => f.ruleId) ?? [];
}

describe('selectPetSeries', () => {
  test('selects an attenuation- and decay-corrected whole-body PET series', () => {
    const pet = series({});
    const selection = selectPetSeries([series({ seriesInstanceUid: '2.25.20', modality: 'CT', sopClassUid: SopClass.CtImageStorage }), pet]);
    expect(selection.status).toBe('selected');
    expect(selection.status === 'selected' && selection.series).toBe(pet);
    expect(failedRules(selection, '2.25.20')).toEqual(['modality-pt', 'pet-image-storage']);
  });

  test('every rule is data: an id, a description and a check', () => {
    expect(SERIES_ELIGIBILITY_RULES.map((r) => r.id)).toEqual([
      'modality-pt', 'pet-image-storage', 'original-not-derived', 'not-mipseg-output',
      'attenuation-and-decay-corrected', 'static-or-whole-body', 'fdg', 'all-slices-received', 'whole-body-coverage', 'enough-slices',
    ]);
    for (const rule of SERIES_ELIGIBILITY_RULES) expect(rule.description.length).toBeGreaterThan(10);
  });

  test.each<[string, Partial<PetSeriesHeader>, number, string]>([
    ['non-attenuation-corrected', { correctedImage: ['DECY', 'NORM'] }, 267, 'attenuation-and-decay-corrected'],
    ['dynamic', { seriesType: ['DYNAMIC', 'IMAGE'] }, 267, 'static-or-whole-body'],
    ['gated', { seriesType: ['GATED', 'IMAGE'] }, 267, 'static-or-whole-body'],
    ['a reprojection', { seriesType: ['WHOLE BODY', 'REPROJECTION'] }, 267, 'static-or-whole-body'],
    ['derived', { imageType: ['DERIVED', 'SECONDARY'] }, 267, 'original-not-derived'],
    ['short (of unknown spacing, so only its slices are counted)', { numberOfSlices: 49, sliceSpacingMm: null }, 49, 'enough-slices'],
    ['brain-only (109 slices of 2.027 mm: 221 mm of the body)', { numberOfSlices: 109, sliceSpacingMm: 2.027, seriesType: ['STATIC', 'IMAGE'] }, 109,
      'whole-body-coverage'],
    ['still arriving', {}, 200, 'all-slices-received'],
    ['PSMA', TRACER('18F-PSMA-1007'), 267, 'fdg'],
    ['DOTATATE (by code only)', TRACER(null, { value: '424487000', scheme: 'SCT', meaning: null }), 267, 'fdg'],
    ['tracer-unnamed', TRACER(null), 267, 'fdg'],
    ['FLT (by its chemical name, deoxy and fluoro but no glucose)', TRACER("3'-deoxy-3'-[18F]fluorothymidine"), 267, 'fdg'],
    ['6-fluoro-deoxyglucose (fluorine at 6, not 2)', TRACER('6-deoxy-6-[18F]fluoro-D-glucose'), 267, 'fdg'],
    ['FDGal (a galactose tracer)', TRACER('[18F]FDGal'), 267, 'fdg'],
    ['FES', TRACER('16alpha-[18F]fluoro-17beta-estradiol'), 267, 'fdg'],
    ['FDOPA', TRACER('6-[18F]fluoro-L-DOPA'), 267, 'fdg'],
    ['mipseg manufacturer', { manufacturer: MIPSEG_MANUFACTURER }, 267, 'not-mipseg-output'],
    ['mipseg software', { softwareVersions: ['mipseg 0.1.0'] }, 267, 'not-mipseg-output'],
    ['secondary capture', { sopClassUid: SopClass.SecondaryCaptureImageStorage }, 267, 'pet-image-storage'],
  ])('a %s series is not applicable, with the rule that failed and why', (_what, header, count, rule) => {
    const selection = selectPetSeries([series(header, count)]);
    expect(selection.status).toBe('not-applicable');
    expect(failedRules(selection, WHOLE_BODY_PET.seriesInstanceUid)).toEqual([rule]);
    expect(selection.status === 'not-applicable' && selection.reason).toContain("Series 3 'PET AC': ");
  });

  test.each<[string, PetSeriesHeader['radiopharmaceutical']]>([
    ['the GE sample\'s name', { name: 'FDG -- fluorodeoxyglucose', code: null }],
    ['a Siemens name', { name: 'Fluorodeoxyglucose F^18^', code: null }],
    ['SNOMED CT by code alone', { name: null, code: { value: '35321007', scheme: 'SCT', meaning: null } }],
    ['SNOMED III by code, with another name', { name: '18F', code: { value: 'Y-X1743', scheme: '99SDM', meaning: 'FDG' } }],
    ['a code meaning', { name: null, code: { value: 'X', scheme: 'LOCAL', meaning: 'Fludeoxyglucose F18' } }],
    ['a German name', { name: 'Fluordesoxyglucose', code: null }],
    ['a French name', { name: 'Fluorodésoxyglucose', code: null }],
    ['the chemical name', { name: '2-deoxy-2-[18F]fluoro-D-glucose', code: null }],
    ['another spelling', { name: 'F-18 Fluoro-2-deoxy-D-glucose', code: null }],
    ['18F-FDG', { name: '18F-FDG', code: null }],
    ['the German INN', { name: 'Fludesoxyglucose (18F)', code: null }],
    ['the Spanish INN', { name: 'Fludesoxiglucosa (18F)', code: null }],
    ['the Italian INN', { name: 'Fludeossiglucosio (18F)', code: null }],
    ['a German spelling with k', { name: 'Fluordesoxyglukose', code: null }],
    ['a name in words', { name: 'Fluoro Deoxy Glucose', code: null }],
    ['a name in two words', { name: '18F Fluorodeoxy glucose', code: null }],
    ['the chemical name with spaces', { name: 'Fluoro 2-deoxy D-glucose', code: null }],
  ])('FDG is recognised by %s', (_what, radiopharmaceutical) => {
    expect(selectPetSeries([series({ radiopharmaceutical })]).status).toBe('selected');
  });

  test('why a tracer is refused names it, or says it is not named', () => {
    const psma = selectPetSeries([series(TRACER('18F-PSMA-1007'))]);
    expect(psma.status === 'not-applicable' && psma.reason).toContain('the radiopharmaceutical is 18F-PSMA-1007, not FDG');
    const unnamed = selectPetSeries([series(TRACER(null))]);
    expect(unnamed.status === 'not-applicable' && unnamed.reason).toContain('the radiopharmaceutical is not named');
  });

  test('a series without NumberOfSlices is judged by its slice count alone; with it, more slices than it says pass', () => {
    expect(selectPetSeries([series({ numberOfSlices: null }, 200)]).status).toBe('selected');
    expect(selectPetSeries([series({}, 268)]).status).toBe('selected');
    const partial = selectPetSeries([series({}, 200)]);
    expect(partial.status === 'not-applicable' && partial.reason).toContain('200 of 267 slices received (NumberOfSlices)');
  });

  test('the slice minimum is configurable', () => {
    expect(selectPetSeries([series({ numberOfSlices: 20 }, 20)], { minSlices: 20, minCoverageMm: 0 }).status).toBe('selected');
  });

  test('the coverage minimum is configurable, and says how much of the body a refused series covers', () => {
    const cardiac = series({ numberOfSlices: 47, sliceSpacingMm: 3.27, seriesType: ['STATIC', 'IMAGE'] }, 47);
    const refused = selectPetSeries([cardiac], { minSlices: 40 });
    expect(refused.status === 'not-applicable' && refused.reason).toContain('154 mm of the body (47 slices), less than 500 mm');
    expect(selectPetSeries([cardiac], { minSlices: 40, minCoverageMm: 150 }).status).toBe('selected');
  });

  test('prefers a series holding NumberOfSlices instances over one holding twice as many (duplicates or two reconstructions)', () => {
    const whole = series({ seriesInstanceUid: '2.25.40', seriesNumber: 5 }, 267);
    const doubled = series({ seriesInstanceUid: '2.25.41', seriesNumber: 4 }, 534);
    for (const candidates of [[whole, doubled], [doubled, whole]]) {
      const selection = selectPetSeries(candidates);
      expect(selection.status === 'selected' && selection.series.header.seriesInstanceUid).toBe('2.25.40');
    }
    // Alone it is still tried (a scanner that counts NumberOfSlices per bed position would look the same).
    expect(selectPetSeries([doubled]).status).toBe('selected');
    // Such a scanner's whole-body series is not taken for a head scan: every slice received counts toward its coverage.
    expect(selectPetSeries([series({ numberOfSlices: 81 }, 267)]).status).toBe('selected');
  });

  test('a measured span decides the coverage of a series holding more slices than NumberOfSlices', () => {
    const sentTwice = { ...series({ numberOfSlices: 86, sliceSpacingMm: 3.27 }, 172), axialSpanMm: 281 };
    const refused = selectPetSeries([sentTwice]);
    expect(refused.status === 'not-applicable' && refused.reason).toContain('281 mm of the body (172 slices, measured from its first slice to its last)');
    expect(selectPetSeries([{ ...series({ numberOfSlices: 81 }, 267), axialSpanMm: 873 }]).status).toBe('selected');
  });

  test('an Enhanced PET series is not applicable (multi-frame PET is not assembled), not chosen to fail later', () => {
    const enhanced = series({ sopClassUid: SopClass.EnhancedPetImageStorage, numberOfFrames: 300 }, 1);
    const selection = selectPetSeries([enhanced]);
    expect(selection.status === 'not-applicable' && selection.reason).toContain('Enhanced PET Image Storage (multi-frame) is not assembled');
  });

  test('prefers the series with more slices; an Enhanced PET series beside them is not chosen', () => {
    const enhanced = series({ seriesInstanceUid: '2.25.30', sopClassUid: SopClass.EnhancedPetImageStorage, numberOfFrames: 400 }, 1);
    const torso = series({ seriesInstanceUid: '2.25.31', numberOfSlices: 120 }, 120);
    const wholeBody = series({ seriesInstanceUid: '2.25.32', numberOfSlices: 300 }, 300);
    const selection = selectPetSeries([enhanced, torso, wholeBody]);
    expect(selection.status === 'selected' && selection.series.header.seriesInstanceUid).toBe('2.25.32');
  });

  test('prefers the longest coverage: a whole-body series over a head-and-neck one of more, thinner slices', () => {
    const headAndNeck = series({ seriesInstanceUid: '2.25.33', seriesNumber: 2, numberOfSlices: 300, sliceSpacingMm: 1.5 }, 300); // 45 cm
    const wholeBody = series({ seriesInstanceUid: '2.25.34', seriesNumber: 4, numberOfSlices: 250, sliceSpacingMm: 4 }, 250); // 100 cm
    const selection = selectPetSeries([headAndNeck, wholeBody]);
    expect(selection.status === 'selected' && selection.series.header.seriesInstanceUid).toBe('2.25.34');
    // Two reconstructions of one scan (within 2 cm of each other): the more slices; no spacing known: the more slices too.
    const fine = series({ seriesInstanceUid: '2.25.35', numberOfSlices: 500, sliceSpacingMm: 2 }, 500);
    const coarse = series({ seriesInstanceUid: '2.25.36', numberOfSlices: 303, sliceSpacingMm: 3.27 }, 303);
    const unknown = (s: PetSeriesCandidate): PetSeriesCandidate => ({ ...s, header: { ...s.header, sliceSpacingMm: null } });
    const chosen = (candidates: PetSeriesCandidate[]) => {
      const selection = selectPetSeries(candidates);
      return selection.status === 'selected' ? selection.series.header.seriesInstanceUid : selection.reason;
    };
    expect(chosen([coarse, fine])).toBe('2.25.35');
    expect(chosen([unknown(headAndNeck), unknown(wholeBody)])).toBe('2.25.33');
    // 988 mm and 991 mm are one scan however they round: the more slices. In any order of the input.
    const fine494 = series({ seriesInstanceUid: '2.25.37', numberOfSlices: 494, sliceSpacingMm: 2 }, 494);
    expect([chosen([coarse, fine494]), chosen([fine494, coarse])]).toEqual(['2.25.37', '2.25.37']);
    // A series without a spacing is not ranked among those with one, whatever the order it came in.
    const noSpacing = unknown(series({ seriesInstanceUid: '2.25.38', numberOfSlices: 300 }, 300));
    const orders = [[wholeBody, headAndNeck, noSpacing], [headAndNeck, wholeBody, noSpacing], [noSpacing, headAndNeck, wholeBody]];
    expect(orders.map(chosen)).toEqual(['2.25.34', '2.25.34', '2.25.34']);
  });

  test('of two reconstructions of one scan, prefers one whose SUV can be computed over one with more slices', () => {
    // The counts reconstruction whose Philips SUV factor an anonymiser stripped: more slices, lower SeriesNumber.
    const counts = { ...series({ seriesInstanceUid: '2.25.50', seriesNumber: 2, numberOfSlices: 305 }, 305), suvReady: false };
    const bqml = { ...series({ seriesInstanceUid: '2.25.51', seriesNumber: 5, numberOfSlices: 300 }, 300), suvReady: true };
    for (const order of [[counts, bqml], [bqml, counts]]) {
      const selection = selectPetSeries(order);
      expect(selection.status === 'selected' && selection.series.header.seriesInstanceUid).toBe('2.25.51');
    }
    // Not at the cost of coverage: a partial series that can be converted does not replace the whole-body one.
    const partial = { ...series({ seriesInstanceUid: '2.25.52', numberOfSlices: 100 }, 100), suvReady: true };
    const selection = selectPetSeries([counts, partial]);
    expect(selection.status === 'selected' && selection.series.header.seriesInstanceUid).toBe('2.25.50');
  });

  // PET/CT scanners send a CT dose report and an injected-activity report with almost every study.
  const radiopharmaceuticalDoseSr = series({
    seriesInstanceUid: '2.25.40', modality: 'SR', sopClassUid: SopClass.RadiopharmaceuticalRadiationDoseSrStorage,
    imageType: [], correctedImage: [], seriesType: [], seriesDescription: 'Dose Report',
  }, 1);
  const xRayDoseSr = series({ ...radiopharmaceuticalDoseSr.header, seriesInstanceUid: '2.25.41', sopClassUid: SopClass.XRayRadiationDoseSrStorage }, 1);

  test('a study of PET and radiation dose SR selects the PET series; the SRs fail on Modality and SOP class', () => {
    const pet = series({});
    const selection = selectPetSeries([radiopharmaceuticalDoseSr, pet, xRayDoseSr]);
    expect(selection.status === 'selected' && selection.series).toBe(pet);
    for (const uid of ['2.25.40', '2.25.41']) expect(failedRules(selection, uid)).toEqual(expect.arrayContaining(['modality-pt', 'pet-image-storage']));
  });

  test('a study of dose SR only is not applicable, with each SR series and its Modality in the reason', () => {
    const selection = selectPetSeries([radiopharmaceuticalDoseSr, xRayDoseSr]);
    expect(selection.status).toBe('not-applicable');
    const reason = selection.status === 'not-applicable' ? selection.reason : '';
    // Both reports are series 3 'Dose Report' here: their UIDs tell them apart.
    expect(reason).toContain("Series 3 'Dose Report' (2.25.40): Modality is SR");
    expect(reason).toContain("Series 3 'Dose Report' (2.25.41): Modality is SR");
  });

  test('a not-applicable study names each series as a reader knows it (number and description), not by its UID', () => {
    const ge = series({ seriesInstanceUid: '1.3.6.1.4.1.14519.5.2.1.5168.1900.279539551699081894888330051583', seriesDescription: 'PET WB AC' });
    const selection = selectPetSeries([ge], { minSlices: 1000 });
    expect(selection.status === 'not-applicable' && selection.reason).toBe("Series 3 'PET WB AC': 267 slice(s), fewer than 1000");
  });

  test('a series without number or description is named by its UID; two that read the same are told apart by theirs', () => {
    const unnamed = series({ seriesInstanceUid: '2.25.60', seriesNumber: null, seriesDescription: null, modality: 'CT' });
    const twin = series({ seriesInstanceUid: '2.25.61', modality: 'CT' });
    const selection = selectPetSeries([unnamed, series({ seriesInstanceUid: '2.25.62', modality: 'CT' }), twin],
      {}, SERIES_ELIGIBILITY_RULES.slice(0, 1), [{ seriesInstanceUid: '2.25.63', eligible: false, failures: [{ ruleId: 'header-readable', reason: 'no header' }] }]);
    expect(selection.status === 'not-applicable' && selection.reason.split(' | ')).toEqual([
      'Series 2.25.60: Modality is CT', "Series 3 'PET AC' (2.25.62): Modality is CT", "Series 3 'PET AC' (2.25.61): Modality is CT",
      'Series 2.25.63: no header',
    ]);
  });

  test('a crafted SeriesDescription cannot read as another series: its quote and separators are escaped, its length cut', () => {
    const crafted = series({ seriesInstanceUid: '2.25.70', seriesDescription: "x': ok | Series 9 'y\\", modality: 'CT' });
    const long = series({ seriesInstanceUid: '2.25.71', seriesNumber: 4, seriesDescription: `PET\r\n${'A'.repeat(200)}`, modality: 'CT' });
    const selection = selectPetSeries([crafted, long], {}, SERIES_ELIGIBILITY_RULES.slice(0, 1));
    expect(selection.status === 'not-applicable' && selection.reason.split(' | ')).toEqual([
      "Series 3 'x\\': ok \\| Series 9 \\'y\\\\': Modality is CT", `Series 4 'PET  ${'A'.repeat(59)}…': Modality is CT`,
    ]);
  });

  test('a study with no series is not applicable', () => {
    expect(selectPetSeries([])).toMatchObject({ status: 'not-applicable', reason: 'the study has no series' });
  });
});
