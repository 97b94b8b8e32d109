import { spawnSync } from 'node:child_process';
import { dicomTimestamp, formatDa, formatDs, formatTm, parseUtcOffset } from './dicom-values';

describe('formatDs', () => {
  test.each([
    [0, '0'], [-0, '0'], [2, '2'], [-297.65625, '-297.65625'], [1.63, '1.63'], [388777472, '388777472'],
    [1e-7, '1e-7'], [0.1 + 0.2, '0.3'], [1.23e17, '1.23e17'], [-1e16, '-1e16'],
  ])('writes %p as %p', (value, text) => {
    expect(formatDs(value)).toBe(text);
  });

  test.each([Math.PI / 42737, -0.00014648661603, 123456789.12345679, 1 / 3, -2 / 3, 6.02214076e23, 1.234567890123457e18, -9.87654321987654e19])(
    'keeps %p within 16 characters and 1e-9 relative', (value) => {
      const text = formatDs(value);
      expect(text.length).toBeLessThanOrEqual(16);
      expect(Math.abs(Number(text) - value)).toBeLessThanOrEqual(Math.abs(value) * 1e-9);
    });

  test('refuses a non-finite value', () => {
    expect(() => formatDs(Number.NaN)).toThrow(RangeError);
  });
});

describe('formatDa / formatTm', () => {
  test('write the local date and time', () => {
    const d = new Date(2024, 0, 5, 7, 8, 9, 45);
    expect(formatDa(d)).toBe('20240105');
    expect(formatTm(d)).toBe('070809.045');
  });
});

describe('parseUtcOffset', () => {
  test.each([['+0900', 540], ['-0500', -300], ['+0545', 345], ['+0000', 0], [' +0100 ', 60]])('reads %p as %p minutes', (value, minutes) => {
    expect(parseUtcOffset(value)).toBe(minutes);
  });

  test.each(['', 'JST', '0900', '+9', '+0960', '+1500'])('gives null for %p', (value) => {
    expect(parseUtcOffset(value)).toBeNull();
  });
});

describe('dicomTimestamp', () => {
  test('writes the instant in the stated zone, whatever zone the process runs in', () => {
    const instant = new Date(Date.UTC(2024, 4, 17, 23, 30, 15, 250));
    expect(dicomTimestamp(instant, 540)).toEqual({ date: '20240518', time: '083015.250', utcOffset: '+0900' });
    expect(dicomTimestamp(instant, -300)).toEqual({ date: '20240517', time: '183015.250', utcOffset: '-0500' });
  });

  test('writes local time where no zone is stated', () => {
    const instant = new Date(2024, 0, 5, 7, 8, 9, 45);
    expect(dicomTimestamp(instant, null)).toMatchObject({ date: '20240105', time: '070809.045' });
  });

  // Containers run in UTC unless TZ is set: results of a scanner an hour east of it would carry times an hour early.
  // In a process of its own: jest's process.env is a copy, and node reads TZ from the real one.
  test.each([
    ['Europe/Copenhagen', { date: '20240106', time: '003000.000', utcOffset: '+0100' }],
    ['America/Chicago', { date: '20240105', time: '173000.000', utcOffset: '-0600' }],
  ])('writes local time in the zone TZ names (%s), with its offset', (tz, expected) => {
    const script = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
const { dicomTimestamp } = require(${JSON.stringify(require.resolve('./dicom-values'))});
process.stdout.write(JSON.stringify(dicomTimestamp(new Date(Date.UTC(2024, 0, 5, 23, 30, 0, 0)), null)));`;
    const run = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(expected);
  });
});
