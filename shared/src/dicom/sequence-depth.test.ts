import { errorCodeOf, mipsegErrorThrownBy, syntheticPetInstance } from '../../../test/pipeline/dicom-output/synthetic-source';
import {
  CODE_VALUE, IMPLICIT_CODE_VALUE, implicitInstanceWith, implicitNestedSequences, withNestedSequences, type ImplicitSequenceTag,
} from '../../../test/support/nested-sequences';
import { readDcmjsDataSet } from './dcmjs-read';
import { parseInstanceHeader } from './parse-header';
import { MAX_SEQUENCE_DEPTH } from './sequence-depth';

function petWithSequencesNested(depth: number, undefinedLength = true): Buffer {
  return withNestedSequences(syntheticPetInstance({ sopInstanceUid: '2.25.5151.1' }), depth, CODE_VALUE, undefinedLength);
}

describe('sequence nesting at ingest', () => {
  test.each([true, false])('takes sequences nested as deep as the limit (undefined lengths: %s)', (undefinedLength) => {
    expect(parseInstanceHeader(petWithSequencesNested(MAX_SEQUENCE_DEPTH, undefinedLength)).sopInstanceUid).toBe('2.25.5151.1');
  });

  test.each([true, false])('refuses sequences nested one level deeper than the limit, naming both (undefined lengths: %s)', (undefinedLength) => {
    const err = mipsegErrorThrownBy(() => parseInstanceHeader(petWithSequencesNested(MAX_SEQUENCE_DEPTH + 1, undefinedLength)));
    expect(err).toMatchObject({ code: 'MIPSEG_DICOM_SEQUENCES_TOO_DEEP', failureReason: 0xc000, httpStatus: 400 });
    expect(err.message).toContain(`${MAX_SEQUENCE_DEPTH + 1} levels, at most ${MAX_SEQUENCE_DEPTH}`);
  });

  // The reviewer's file: stored, then every metadata read blocked the service ~10 s and overflowed dcmjs's stack.
  test('refuses a file nested 1,500 levels deep', () => {
    expect(errorCodeOf(() => parseInstanceHeader(petWithSequencesNested(1500)))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  });
});

function implicitWithSequencesNested(depth: number, tag: ImplicitSequenceTag): Buffer {
  return implicitInstanceWith('2.25.5155.1', implicitNestedSequences(depth, IMPLICIT_CODE_VALUE, tag));
}

describe('sequence nesting in Implicit VR', () => {
  // dicom-parser reads the Item Delimitation Item that closes the innermost item as a sequence with no items.
  test.each<ImplicitSequenceTag>(['standard', 'private'])('takes %s sequences nested as deep as the limit', (tag) => {
    expect(parseInstanceHeader(implicitWithSequencesNested(MAX_SEQUENCE_DEPTH, tag)).sopInstanceUid).toBe('2.25.5155.1');
  });

  // dicom-parser reads a private sequence of undefined length and keeps none of its items: dcmjs reads them all.
  test.each<ImplicitSequenceTag>(['standard', 'private'])('refuses %s sequences nested one level deeper than the limit', (tag) => {
    const err = mipsegErrorThrownBy(() => parseInstanceHeader(implicitWithSequencesNested(MAX_SEQUENCE_DEPTH + 1, tag)));
    expect(err.code).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  });

  test('refuses private sequences nested 200 levels deep, on a metadata read too', () => {
    const file = implicitWithSequencesNested(200, 'private');
    expect(errorCodeOf(() => parseInstanceHeader(file))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
    expect(errorCodeOf(() => readDcmjsDataSet(file))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  });

  test('refuses private sequences inside standard ones, past the limit together', () => {
    const privateOnes = implicitNestedSequences(MAX_SEQUENCE_DEPTH / 2 + 1, IMPLICIT_CODE_VALUE, 'private');
    const file = implicitInstanceWith('2.25.5155.1', implicitNestedSequences(MAX_SEQUENCE_DEPTH / 2, privateOnes, 'standard'));
    expect(errorCodeOf(() => parseInstanceHeader(file))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  });

  test('refuses private sequences nested 1,500 levels deep without running out of stack', () => {
    const code = errorCodeOf(() => parseInstanceHeader(implicitWithSequencesNested(1500, 'private')));
    expect(['MIPSEG_DICOM_SEQUENCES_TOO_DEEP', 'MIPSEG_DICOM_UNPARSEABLE']).toContain(code);
  });
});

describe('sequence nesting on a metadata read', () => {
  // An instance stored by a release before the limit: dcmjs is not given it.
  test('refuses to read an instance whose sequences nest deeper than the limit', () => {
    expect(errorCodeOf(() => readDcmjsDataSet(petWithSequencesNested(MAX_SEQUENCE_DEPTH + 1)))).toBe('MIPSEG_DICOM_SEQUENCES_TOO_DEEP');
  });

  test('reads the innermost item of sequences nested as deep as the limit', () => {
    let dict = readDcmjsDataSet(petWithSequencesNested(MAX_SEQUENCE_DEPTH)).dict;
    for (let level = 0; level < MAX_SEQUENCE_DEPTH; level++) dict = dict['00081115']?.Value?.[0] as typeof dict;
    expect(dict['00080100']?.Value).toEqual(['DEEP']);
  });
});
