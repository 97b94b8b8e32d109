import { syntheticSource } from '../../../../test/pipeline/dicom-output/synthetic-source';
import { fitDa, fitPn, fitPnGroup, fitTm, patientAndStudyModules, withWritableTimes } from './common-modules';
import { petSeriesModule } from './pet-mip-modules';

describe('fitting copied values to what PS3.5 and the writer take', () => {
  test('DA: the ACR-NEMA form without its dots; anything else that is not yyyymmdd empty', () => {
    expect([fitDa('2014.10.23'), fitDa('20141023'), fitDa(' 20141023 '), fitDa('23/10/2014'), fitDa('')])
      .toEqual(['20141023', '20141023', '20141023', '', '']);
  });

  test('TM: the ACR-NEMA form without its colons; anything else that is not a TM empty', () => {
    expect([fitTm('08:00:00.000000'), fitTm('08:00'), fitTm('080000.5'), fitTm('8 am')]).toEqual(['080000.000000', '0800', '080000.5', '']);
  });

  test('PN: each component group cut to 64 UTF-16 code units, as the writer counts them, never inside a character', () => {
    expect(fitPn(`${'A'.repeat(70)}=${'B'.repeat(10)}`)).toBe(`${'A'.repeat(64)}=${'B'.repeat(10)}`);
    // U+1D49C is two code units: 63 + 2 would be 65.
    expect(fitPnGroup(`${'A'.repeat(63)}\u{1D49C}`)).toBe('A'.repeat(63));
    expect(fitPnGroup(`${'A'.repeat(62)}\u{1D49C}`)).toBe(`${'A'.repeat(62)}\u{1D49C}`);
  });

  test('a radiopharmaceutical item: ACR-NEMA times rewritten, a date-time that is no DT left out, a fraction only after the seconds', () => {
    const item = withWritableTimes({ RadiopharmaceuticalStartTime: '08:00:00', RadiopharmaceuticalStartDateTime: '2014.5',
      RadiopharmaceuticalStopDateTime: '20141023090000.5+0100', Radiopharmaceutical: 'FDG' });
    expect(item).toEqual({ RadiopharmaceuticalStartTime: '080000', RadiopharmaceuticalStopDateTime: '20141023090000.5+0100', Radiopharmaceutical: 'FDG' });
  });
});

describe('patient and series attributes copied from a source that does not follow PS3.5', () => {
  test('PatientSex is upper-cased, and emptied where it is not M, F or O (Type 2); a PatientAge that is no AS is left out', () => {
    const written = (PatientSex: string, PatientAge: string) => {
      const modules = patientAndStudyModules({ ...syntheticSource(), PatientSex, PatientAge });
      return [modules.PatientSex, modules.PatientAge];
    };
    expect(written('m', '064Y')).toEqual(['M', '064Y']);
    expect(written(' F', '064Y')).toEqual(['F', '064Y']);
    expect(written('male', '64 Y')).toEqual(['', undefined]);
    expect(written('O', '64Y')).toEqual(['O', undefined]);
  });

  test('the series date and time falling back on the study\'s are fitted as the study\'s own are (ACR-NEMA forms)', () => {
    const source = { ...syntheticSource(), SeriesDate: '', SeriesTime: '', AcquisitionDate: '', AcquisitionTime: '',
      StudyDate: '2024.05.17', StudyTime: '08:15:00', DecayCorrection: 'START' };
    expect(petSeriesModule(source)).toMatchObject({ SeriesDate: '20240517', SeriesTime: '081500' });
  });
});
