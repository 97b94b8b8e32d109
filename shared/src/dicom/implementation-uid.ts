/**
 * mipseg's Implementation Class UID (PS3.7 D.3.3.2, PS3.10 7.1): a UUID-derived UID under 2.25 (PS3.5 B.2).
 * Fixed forever: receivers use it to recognise files and associations from mipseg (DIMSE associations and the
 * File Meta Information of files mipseg writes).
 */
export const MIPSEG_IMPLEMENTATION_CLASS_UID = '2.25.223437429600400466821254929987824980855';
/** Implementation Version Name (SH, at most 16 characters). */
export const MIPSEG_IMPLEMENTATION_VERSION_NAME = 'MIPSEG_0.1';
