import { mipsegErrorThrownBy } from '../../../test/pipeline/dicom-output/synthetic-source';
import { unparseablePetInstance } from '../../../test/support/unparseable-dicom';
import { parseStoredDicom } from './parse-options';

describe('parseStoredDicom of a file dicom-parser gives up on', () => {
  test('says what dicom-parser found, not just "parse error"', () => {
    const err = mipsegErrorThrownBy(() => parseStoredDicom(unparseablePetInstance('2.25.5156.1')));
    expect(err.code).toBe('MIPSEG_DICOM_UNPARSEABLE');
    expect(err.message).toContain('item tag (FFFE,E000) not found');
  });

  // Errors are kept (logged, remembered for a stored copy): one must not keep a whole multi-frame file in memory.
  test('keeps no reference to the file\'s bytes in its error', () => {
    const err = mipsegErrorThrownBy(() => parseStoredDicom(unparseablePetInstance('2.25.5156.1')));
    expect(JSON.stringify(err.cause ?? null)).not.toContain('byteArray');
    expect(typeof err.cause === 'object' && err.cause !== null && 'dataSet' in err.cause).toBe(false);
  });
});
