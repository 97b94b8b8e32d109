import { formatDa, formatDs, formatTm } from './dicom-values';

describe('formatDs', () => {
  test.each([
    [0, '0'], [-0, '0'], [2, '2'], [-297.65625, '-297.65625'], [1.63, '1.63'], [388777472, '388777472'],
    [1e-7, '1e-7'], [0.1 + 0.2, '0.3'],
  ])('writes %p as %p', (value, text) => {
    expect(formatDs(value)).toBe(text);
  });

  test.each([Math.PI / 42737, -0.00014648661603, 123456789.12345679, 1 / 3, -2 / 3, 6.02214076e23])(
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
