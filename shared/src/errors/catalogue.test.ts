import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS, type ErrorCode } from './catalogue';
import { MipsegError, toMipsegError, toStorageError } from './mipseg-error';

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8');

describe('error catalogue', () => {
  test.each(Object.keys(ERRORS))('%s is documented in docs/errors.md with its status', (code) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    expect(row).toBeDefined();
    expect(row).toContain(`| ${ERRORS[code as ErrorCode].httpStatus} |`);
  });

  test('docs/errors.md documents no code the catalogue lacks', () => {
    const documented = [...doc.matchAll(/^\| `(MIPSEG_[A-Z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort());
  });

  test('an error carries its code, status, failure reason and the detail in its message', () => {
    const err = new MipsegError('MIPSEG_STUDY_MISMATCH', '1.2.3');
    expect(err.code).toBe('MIPSEG_STUDY_MISMATCH');
    expect(err.httpStatus).toBe(409);
    expect(err.failureReason).toBe(0xc409);
    expect(err.message).toContain('1.2.3');
  });

  test.each(['ENOSPC', 'EDQUOT', 'SQLITE_FULL'])('an error with code %s (out of space) becomes MIPSEG_STORAGE_FULL, 507 and 0xA700', (code) => {
    const cause = Object.assign(new Error('no room'), { code });
    for (const err of [toMipsegError(cause), toStorageError(cause)]) {
      expect(err).toMatchObject({ code: 'MIPSEG_STORAGE_FULL', httpStatus: 507, failureReason: 0xa700, cause });
    }
  });

  // Answered 0x0110 before, which senders take as final: a PACS forward of a study ended at the first EMFILE.
  test.each(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'SQLITE_BUSY', 'SQLITE_LOCKED'])('an error with code %s (short for now) becomes MIPSEG_STORAGE_BUSY, 503 and 0xA700', (code) => {
    const cause = Object.assign(new Error('try later'), { code });
    for (const err of [toMipsegError(cause), toStorageError(cause)]) {
      expect(err).toMatchObject({ code: 'MIPSEG_STORAGE_BUSY', httpStatus: 503, failureReason: 0xa700, cause });
    }
  });

  test('a storage error that is not about space becomes MIPSEG_STORAGE_FAILED', () => {
    expect(toStorageError(Object.assign(new Error('gone'), { code: 'ENOENT' })).code).toBe('MIPSEG_STORAGE_FAILED');
  });

  test('anything else thrown becomes MIPSEG_INTERNAL, keeping the cause', () => {
    const cause = new Error('boom');
    const err = toMipsegError(cause);
    expect(err.code).toBe('MIPSEG_INTERNAL');
    expect(err.cause).toBe(cause);
  });
});
