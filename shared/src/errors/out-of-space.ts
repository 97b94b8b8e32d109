/** Error codes (errno, SQLite) that mean the volume, or the user's quota on it, is full. */
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * Error codes (errno, SQLite) that mean a resource is short for now, not that the data or mipseg is at fault: file
 * descriptors used up, a file or database busy. A sender told so (0xA700, 503) sends again later, and it then works.
 */
const SHORT_FOR_NOW = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

/** A shortage a sender can wait out, whichever layer raised it, as the catalogue code it reads as and the error's own code. */
export interface ResourceShortage {
  readonly code: 'MIPSEG_STORAGE_FULL' | 'MIPSEG_STORAGE_BUSY';
  readonly errorCode: string;
}

/** Whether the error says there is no room left to write (a full disk or quota), or a resource is short for now. */
export function resourceShortage(err: unknown): ResourceShortage | undefined {
  const errorCode = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof errorCode !== 'string') return undefined;
  if (OUT_OF_SPACE.has(errorCode)) return { code: 'MIPSEG_STORAGE_FULL', errorCode };
  if (SHORT_FOR_NOW.has(errorCode)) return { code: 'MIPSEG_STORAGE_BUSY', errorCode };
  return undefined;
}
