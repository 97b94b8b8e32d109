import { createHash, randomUUID } from 'node:crypto';

/** A UUID's 128 bits read as one decimal integer under the 2.25 root (PS3.5 B.2): at most 44 characters. */
function uidFromUuidHex(hex: string): string {
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

/**
 * A new UID under the 2.25 root from a random (version 4) UUID read as one decimal integer (PS3.5 B.2):
 * no registered organisation root is needed, and the UID is at most 44 characters.
 */
export function newUid(): string {
  return uidFromUuidHex(randomUUID().replace(/-/g, ''));
}

/**
 * The UID of `name` within `namespace`, a UUID: a name-based (version 5, SHA-1) UUID of ISO/IEC 9834-8 /
 * RFC 9562 5.5 under the 2.25 root. The same pair always gives the same UID; a random namespace makes the
 * UIDs as unique as random ones. This lets a job that is retried write its results under the same UIDs,
 * so that a retry replaces a partly stored result instead of adding a second one.
 */
export function nameBasedUid(namespace: string, name: string): string {
  const namespaceHex = namespace.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(namespaceHex)) throw new Error(`not a UUID: ${namespace}`);
  const hash = createHash('sha1').update(Buffer.from(namespaceHex, 'hex')).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // the RFC variant
  return uidFromUuidHex(bytes.toString('hex'));
}

/**
 * A UID generator for one result: the n-th UID it gives is nameBasedUid(seed, `result-uid-n`), so that writing
 * the same result again, in the same order, gives the same UIDs.
 */
export function seededUidSource(seed: string): () => string {
  let next = 0;
  return () => nameBasedUid(seed, `result-uid-${++next}`);
}
