import { fitTextToVrs, fitUtf8Length } from './text-value-lengths';

describe('fitting copied text to its VR', () => {
  test('a value is cut to the byte count, never inside a character, and without the padding space a cut leaves', () => {
    expect(fitUtf8Length('ü'.repeat(40), 64)).toBe('ü'.repeat(32));
    // U+1D49C takes four bytes: 62 + 4 would be 66.
    expect(fitUtf8Length(`${'A'.repeat(62)}\u{1D49C}`, 64)).toBe('A'.repeat(62));
    expect(fitUtf8Length(`${'A'.repeat(15)} B`, 16)).toBe('A'.repeat(15));
    expect(fitUtf8Length('short', 16)).toBe('short');
  });

  test('each value of a multi-valued LO is cut on its own; an ST keeps its backslashes as text', () => {
    const { dataset } = fitTextToVrs({ SoftwareVersions: `${'V'.repeat(70)}\\1.0`, DerivationDescription: `a\\b${'x'.repeat(1100)}` });
    expect(dataset['SoftwareVersions']).toBe(`${'V'.repeat(64)}\\1.0`);
    expect(dataset['DerivationDescription']).toBe(`a\\b${'x'.repeat(1021)}`);
  });

  test('codes and identifiers are kept and listed by path; person names, numbers and binary values pass unchanged', () => {
    const name = { Alphabetic: 'N'.repeat(70) };
    const pixels = [new ArrayBuffer(4)];
    const { dataset, overlongIdentifiers } = fitTextToVrs({
      PatientID: 'P'.repeat(65), PatientName: [name], Rows: 2, PixelData: pixels,
      ProcedureCodeSequence: [{ CodeValue: 'C'.repeat(17), CodingSchemeDesignator: 'LOCAL', CodeMeaning: 'M'.repeat(70) }],
    });
    expect(overlongIdentifiers).toEqual(['PatientID', 'ProcedureCodeSequence > CodeValue']);
    expect(dataset).toEqual({
      PatientID: 'P'.repeat(65), PatientName: [name], Rows: 2, PixelData: pixels,
      ProcedureCodeSequence: [{ CodeValue: 'C'.repeat(17), CodingSchemeDesignator: 'LOCAL', CodeMeaning: 'M'.repeat(64) }],
    });
  });
});
