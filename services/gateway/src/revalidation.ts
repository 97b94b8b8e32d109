import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';

/**
 * Marks a response as one the client keeps but asks about again at each use (Cache-Control no-cache) under `etag`,
 * and answers 304 at once when the client's copy is that one (If-None-Match). True when it answered: the caller
 * then skips the work of the body (a render, a file read), which Express's own freshness check in send() cannot.
 */
export function answeredNotModified(req: Request, res: Response, etag: string): boolean {
  res.set({ 'Cache-Control': 'private, no-cache', ETag: etag });
  const held = req.get('if-none-match')?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag) ?? false;
  if (held) res.status(304).end();
  return held;
}

/** A strong ETag naming a representation by what makes it: the digest of `parts` (JSON), 32 hex digits. */
export function entityTag(...parts: readonly unknown[]): string {
  return `"${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32)}"`;
}
