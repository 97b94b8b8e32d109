import { isMipsegError } from '../errors';
import { encodeFileMetaInformation, readFileMetaInformation } from './file-meta';
import { MIPSEG_IMPLEMENTATION_CLASS_UID } from './implementation-uid';

const meta = {
  mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.128',
  mediaStorageSopInstanceUid: '2.25.1234',
  transferSyntaxUid: '1.2.840.10008.1.2.4.70',
  sourceApplicationEntityTitle: 'MODALITY',
};
const dataSet = Buffer.from([0x08, 0x00, 0x16, 0x00, 0x02, 0x00, 0x00, 0x00, 0x31, 0x00]);

test('encoded File Meta Information reads back, with the data set starting right after it', () => {
  const file = Buffer.concat([encodeFileMetaInformation(meta), dataSet]);
  const parsed = readFileMetaInformation(file);
  expect(parsed).toMatchObject({ mediaStorageSopClassUid: meta.mediaStorageSopClassUid,
    mediaStorageSopInstanceUid: '2.25.1234', transferSyntaxUid: meta.transferSyntaxUid });
  expect(file.subarray(parsed.dataSetOffset).equals(dataSet)).toBe(true);
});

test('group length covers exactly the meta elements, UIDs are NUL-padded to even length', () => {
  const encoded = encodeFileMetaInformation(meta);
  expect(encoded.toString('latin1', 128, 132)).toBe('DICM');
  expect(encoded.readUInt32LE(132 + 8)).toBe(encoded.length - (132 + 12));
  const uidAt = encoded.indexOf('2.25.1234');
  expect(encoded[uidAt + 9]).toBe(0);
  expect(encoded.includes(Buffer.from(MIPSEG_IMPLEMENTATION_CLASS_UID))).toBe(true);
  expect(MIPSEG_IMPLEMENTATION_CLASS_UID.length).toBeLessThanOrEqual(64);
});

test('leaves SourceApplicationEntityTitle out when the calling AE title is unknown', () => {
  const encoded = encodeFileMetaInformation({ ...meta, sourceApplicationEntityTitle: '' });
  expect(encoded.includes(Buffer.from([0x02, 0x00, 0x16, 0x00]))).toBe(false);
});

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

test('refuses a file without preamble and DICM, or with a truncated meta group', () => {
  expect(isMipsegError(errorOf(() => readFileMetaInformation(dataSet)), 'MIPSEG_DICOM_UNPARSEABLE')).toBe(true);
  const truncated = encodeFileMetaInformation(meta).subarray(0, 200);
  expect(isMipsegError(errorOf(() => readFileMetaInformation(truncated)), 'MIPSEG_DICOM_UNPARSEABLE')).toBe(true);
});

test('refuses a meta group cut inside the header of an element with a 4-byte length (OB), as truncated, not with a RangeError', () => {
  const whole = encodeFileMetaInformation(meta);
  // (0002,0001) FileMetaInformationVersion is OB: its header is 12 bytes, and the cut leaves 10 of them.
  const at = whole.indexOf(Buffer.from([0x02, 0x00, 0x01, 0x00, 0x4f, 0x42]), 132);
  expect(at).toBeGreaterThan(0);
  expect(isMipsegError(errorOf(() => readFileMetaInformation(whole.subarray(0, at + 10))), 'MIPSEG_DICOM_UNPARSEABLE')).toBe(true);
});
