import { randomUUID } from 'node:crypto';

/**
 * A new UID under the 2.25 root from a random (version 4) UUID read as one decimal integer (PS3.5 B.2):
 * no registered organisation root is needed, and the UID is at most 44 characters.
 */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}
