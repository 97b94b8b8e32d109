import { readPetSeriesHeader, selectPetSeries } from '../../services/worker/src/selection';
import { syntheticPetInstance } from './volume/synthetic-pet-instance';

/** One FDG slice whose tracer is named only in words (dcmjs writes the text as UTF-8, so ISO_IR 192 tells the truth). */
const slice = (characterSet: string | undefined, radiopharmaceutical: string): Uint8Array => syntheticPetInstance({
  sopInstanceUid: '2.25.9001', imagePositionPatient: [0, 0, 0],
  attributes: {
    SpecificCharacterSet: characterSet,
    RadiopharmaceuticalInformationSequence: [{ Radiopharmaceutical: radiopharmaceutical, RadiopharmaceuticalStartTime: '090000',
      RadionuclideTotalDose: 350e6, RadionuclideHalfLife: 6586.2 }],
  },
});

describe('the tracer\'s name, read in the data set\'s character set', () => {
  test.each([
    ['ISO_IR 192', 'Fludésoxyglucose (18F)'],
    [undefined, 'Fludeoxyglucose (18F)'],
  ])('in %s, "%s" is read as written and recognised as FDG', (characterSet, name) => {
    const header = readPetSeriesHeader(slice(characterSet, name));
    expect(header.radiopharmaceutical.name).toBe(name);
    const selection = selectPetSeries([{ header, instanceCount: 267 }]);
    expect(selection.status === 'not-applicable' ? selection.reason : 'selected').toBe('selected');
  });
});
