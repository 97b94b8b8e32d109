import { formatArea, formatDate, formatDateTime, formatDuration, formatPatientName, formatSexAge, shortenUids } from './format';

describe('how DICOM values read on the worklist', () => {
  test('person names family first, with the given names after a comma', () => {
    expect(formatPatientName('DOE^JANE^M')).toBe('DOE, JANE M');
    expect(formatPatientName('STS_001')).toBe('STS_001');
    expect(formatPatientName('YAMADA^TARO=山田^太郎')).toBe('YAMADA, TARO');
    expect(formatPatientName(null)).toBe('(no name)');
    expect(formatPatientName('=山田^太郎=やまだ^たろう')).toBe('山田, 太郎');
    expect(formatPatientName('^^^')).toBe('(no name)');
    expect(formatPatientName('^JANE')).toBe('JANE'); // no family name: no comma before the given one
  });

  test('dates, durations, areas and age at the study date', () => {
    expect(formatDate('20240131')).toBe('2024-01-31');
    expect([formatDuration(420), formatDuration(1860), formatDuration(75_000), formatDuration(null)]).toEqual(['420 ms', '1.9 s', '1 min 15 s', '']);
    expect([formatArea(40), formatArea(17652)]).toEqual(['40 mm²', '176.5 cm²']);
    expect(formatSexAge('F', '19580412', '20240411')).toBe('F · 65 y');
    expect(formatSexAge('F', '19580412', '20240412')).toBe('F · 66 y');
    // A child under two: completed months, not "0 y" or "1 y".
    expect(formatSexAge('M', '20240115', '20240814')).toBe('M · 6 mo');
    expect(formatSexAge('M', '20240115', '20260114')).toBe('M · 23 mo');
    expect(formatSexAge('M', '20240115', '20260115')).toBe('M · 2 y');
    expect(formatSexAge(null, '20240229', '20250228')).toBe('11 mo');
  });

  test('a time the service recorded names its time zone, so one instant shown in two zones is not taken for two', () => {
    const at = Date.UTC(2026, 0, 15, 0, 50, 0);
    // The zone as the locale abbreviates it: "CET" where it has a name for it, "GMT+1" where not.
    expect(formatDateTime(at, 'Europe/Berlin')).toMatch(/^2026-01-15 01:50:00 (CET|GMT\+1)$/);
    expect(formatDateTime(at, 'America/New_York')).toMatch(/^2026-01-14 19:50:00 (EST|GMT-5)$/);
    expect(formatDateTime(at, 'UTC')).toBe('2026-01-15 00:50:00 UTC');
    expect(formatDateTime(Date.UTC(2026, 6, 1, 12, 0, 5), 'Europe/Berlin')).toMatch(/^2026-07-01 14:00:05 (CEST|GMT\+2)$/);
    expect(formatDateTime(null)).toBe('');
  });

  test('long UIDs in a reason are shortened to their last digits', () => {
    expect(shortenUids('2.25.258866165258485451204040656414827742282: 30 slice(s), fewer than 50')).toBe('…742282: 30 slice(s), fewer than 50');
    expect(shortenUids('SUV 2.5 at 1.2.3')).toBe('SUV 2.5 at 1.2.3');
  });
});
