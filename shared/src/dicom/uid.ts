import { MipsegError } from '../errors';

// PS3.5 §9.1: digits and dots, at most 64 characters, no empty component. Leading zeros are
// tolerated (real scanners emit them) since they are harmless for paths and matching.
const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

/** Throws MIPSEG_INVALID_UID unless `uid` is a well-formed UID: the guard before a UID touches a path. */
export function assertUid(uid: string, what = 'UID'): string {
  if (!isValidUid(uid)) throw new MipsegError('MIPSEG_INVALID_UID', `${what} ${JSON.stringify(uid.slice(0, 80))}`);
  return uid;
}
