/** Error codes (errno, SQLite) that mean the volume, or the user's quota on it, is full. */
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** The code of an error that says there is no room left to write (a full disk or quota), whichever layer raised it. */
export function outOfSpaceCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && OUT_OF_SPACE.has(code) ? code : undefined;
}

/**
 * Error codes (errno, SQLite) that mean a resource is short for now, not that the data or mipseg is at fault: file
 * descriptors used up, a file or database busy. A sender told so (0xA700, 503) sends again later, and it then works.
 */
const SHORT_FOR_NOW = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

/** The code of an error that says a resource is short for now (see SHORT_FOR_NOW), whichever layer raised it. */
export function shortForNowCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && SHORT_FOR_NOW.has(code) ? code : undefined;
}
