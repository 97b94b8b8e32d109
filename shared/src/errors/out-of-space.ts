/** Error codes (errno, SQLite) that mean the volume, or the user's quota on it, is full. */
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** The code of an error that says there is no room left to write (a full disk or quota), whichever layer raised it. */
export function outOfSpaceCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && OUT_OF_SPACE.has(code) ? code : undefined;
}
