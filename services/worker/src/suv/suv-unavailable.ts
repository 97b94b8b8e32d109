import { MipsegError } from '@mipseg/shared/errors';

/** The one refusal of SUV scaling: MIPSEG_SUV_UNAVAILABLE, its detail naming the attribute at fault. */
export const suvUnavailable = (detail: string, cause?: unknown): MipsegError =>
  new MipsegError('MIPSEG_SUV_UNAVAILABLE', detail, cause === undefined ? undefined : { cause });
