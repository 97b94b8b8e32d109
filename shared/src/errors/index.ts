export { ERRORS, DicomFailureReason } from './catalogue';
export type { ErrorCode, ErrorDefinition } from './catalogue';
export { MipsegError, toMipsegError, toStorageError, isMipsegError } from './mipseg-error';
export { fetchFailureCause, type FetchFailureCause } from './fetch-failure';
