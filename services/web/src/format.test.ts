import { formatArea, formatDate, formatDuration, formatPatientName, formatSexAge, shortenUids } from './format';

describe('how DICOM values read on the worklist', () => {
  test('person names family first, with the given names after a comma', () => {
    expect(formatPatientName('DOE^JANE^M')).toBe('DOE, JANE M');
    expect(formatPatientName('STS_001')).toBe('STS_001');
    expect(formatPatientName('YAMADA^TARO=山田^太郎')).toBe('YAMADA, TARO');
    expect(formatPatientName(null)).toBe('(no name)');
    expect(formatPatientName('=山田^太郎=やまだ^たろう')).toBe('山田, 太郎');
    expect(formatPatientName('^^^')).toBe('(no name)');
  });

  test('dates, durations, areas and age at the study date', () => {
    expect(formatDate('20240131')).toBe('2024-01-31');
    expect([formatDuration(420), formatDuration(1860), formatDuration(75_000), formatDuration(null)]).toEqual(['420 ms', '1.9 s', '1 min 15 s', '']);
    expect([formatArea(40), formatArea(17652)]).toEqual(['40 mm²', '176.5 cm²']);
    expect(formatSexAge('F', '19580412', '20240411')).toBe('F · 65 y');
    expect(formatSexAge('F', '19580412', '20240412')).toBe('F · 66 y');
  });

  test('long UIDs in a reason are shortened to their last digits', () => {
    expect(shortenUids('2.25.258866165258485451204040656414827742282: 30 slice(s), fewer than 50')).toBe('…742282: 30 slice(s), fewer than 50');
    expect(shortenUids('SUV 2.5 at 1.2.3')).toBe('SUV 2.5 at 1.2.3');
  });
});
