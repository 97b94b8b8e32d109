import { MipsegError, type ErrorCode } from '@mipseg/shared/errors';
import type { InstanceHeader } from '@mipseg/shared/dicom';
import { classifyCStoreStatus, cStoreResultFor } from './c-store-status';

const failed = (code: ErrorCode, detail = 'x') => cStoreResultFor({ status: 'failed', error: new MipsegError(code, detail) });
const header = {} as InstanceHeader;

test('a stored instance and an identical resend both answer 0x0000 without ErrorComment', () => {
  expect(cStoreResultFor({ status: 'stored', header, replaced: false })).toEqual({ status: 0 });
  expect(cStoreResultFor({ status: 'unchanged', header, replaced: false })).toEqual({ status: 0 });
});

test.each<[ErrorCode, string]>([
  ['MIPSEG_STORAGE_FULL', 'a700'],
  ['MIPSEG_STORAGE_BUSY', 'a700'],
  ['MIPSEG_SOP_CLASS_MISMATCH', 'a900'],
  ['MIPSEG_DICOM_UNPARSEABLE', 'c000'],
  ['MIPSEG_DICOM_MISSING_ATTRIBUTE', 'c000'],
  ['MIPSEG_SOP_CLASS_NOT_SUPPORTED', '0122'],
  ['MIPSEG_INSTANCE_CONFLICT', 'c410'],
  ['MIPSEG_PATIENT_MISMATCH', 'c411'],
  ['MIPSEG_PAYLOAD_TOO_LARGE', 'c412'],
  ['MIPSEG_TRANSFER_SYNTAX_NOT_SUPPORTED', 'c122'],
  ['MIPSEG_STORAGE_FAILED', '0110'],
  ['MIPSEG_INTERNAL', '0110'],
])('%s answers C-STORE status 0x%s', (code, hex) => {
  expect(failed(code).status).toBe(parseInt(hex, 16));
});

test('ErrorComment carries the message as a valid LO: at most 64 characters, no backslash', () => {
  const { errorComment } = failed('MIPSEG_SOP_CLASS_MISMATCH', `ImageType ORIGINAL\\PRIMARY ${'y'.repeat(80)}`);
  expect(errorComment).toMatch(/^ImageType ORIGINAL PRIMARY y+$/); // the detail alone: the whole message does not fit
  expect(errorComment?.length).toBeLessThanOrEqual(64);
});

// The peer may be any calling AE: a file path under DATA_DIR, or an internal message, is for the log only.
test('ErrorComment of a message too long for it gives what names the problem, not the catalogue\'s words', () => {
  expect(failed('MIPSEG_DICOM_MISSING_ATTRIBUTE', 'StudyInstanceUID (0020,000D): not a valid UID').errorComment)
    .toBe('StudyInstanceUID (0020,000D): not a valid UID');
  expect(failed('MIPSEG_DICOM_MISSING_ATTRIBUTE', 'Modality').errorComment).toBe('required attribute missing or invalid: Modality');
});

test('ErrorComment of a fault of ours or of the system gives its code, not its message', () => {
  const cause = Object.assign(new Error("EACCES: permission denied, open '/srv/mipseg/data/tmp/1.part'"), { code: 'EACCES' });
  const storage = cStoreResultFor({ status: 'failed', error: new MipsegError('MIPSEG_STORAGE_FAILED', cause.message, { cause }) });
  expect(storage.errorComment).toBe('MIPSEG_STORAGE_FAILED (EACCES); see the mipseg log');
  const internal = cStoreResultFor({ status: 'failed', error: new MipsegError('MIPSEG_INTERNAL', 'TypeError: x is undefined at /app/dist/a.js') });
  expect(internal.errorComment).toBe('internal error; see the mipseg log');
  // What is wrong with the instance itself stays said, whatever library raised it.
  expect(failed('MIPSEG_PAYLOAD_TOO_LARGE', 'instance over MAX_INSTANCE_BYTES (1073741824)').errorComment).toMatch(/over MAX_INSTANCE_BYTES/);
  const parse = new Error('dicomParser.readPart10Header: missing required meta header attribute 0002,0010');
  expect(cStoreResultFor({ status: 'failed', error: new MipsegError('MIPSEG_DICOM_UNPARSEABLE', parse.message, { cause: parse }) }).errorComment)
    .toMatch(/^dicomParser.readPart10Header: missing required meta header/); // its detail, not MIPSEG_DICOM_UNPARSEABLE
});

test('classifies response statuses the way an SCU must act on them', () => {
  expect(classifyCStoreStatus(0x0000)).toBe('success');
  expect(classifyCStoreStatus(0xb000)).toBe('warning');
  expect(classifyCStoreStatus(0xb007)).toBe('warning');
  // PS3.7 C.4's general warnings: some archives answer a C-STORE with them, having stored the instance.
  expect(classifyCStoreStatus(0x0107)).toBe('warning');
  expect(classifyCStoreStatus(0x0116)).toBe('warning');
  expect(classifyCStoreStatus(0xa700)).toBe('retryable');
  expect(classifyCStoreStatus(0xa7ff)).toBe('retryable');
  for (const permanent of [0xa900, 0xc000, 0xc409, 0x0122, 0x0111, 0x0110]) {
    expect(classifyCStoreStatus(permanent)).toBe('failure');
  }
});
