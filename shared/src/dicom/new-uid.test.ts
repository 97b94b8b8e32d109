import { nameBasedUid, newUid, seededUidSource } from './new-uid';
import { isValidUid } from './uid';

describe('newUid', () => {
  test('returns a valid 2.25 UID whose decimal part has no leading zero', () => {
    for (let i = 0; i < 200; i++) {
      const uid = newUid();
      expect(isValidUid(uid)).toBe(true);
      expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(uid.length).toBeLessThanOrEqual(44);
    }
  });

  test('returns a different UID on every call', () => {
    const uids = new Set(Array.from({ length: 1000 }, () => newUid()));
    expect(uids.size).toBe(1000);
  });
});

describe('nameBasedUid', () => {
  test('is the version 5 UUID of RFC 9562 under 2.25 (the value Python\'s uuid.uuid5 gives)', () => {
    // uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org') = 886313e1-3b8a-5372-9b90-0c9aee199e5d
    expect(nameBasedUid('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('2.25.181289448026289383154478846676280385117');
  });

  test('gives the same UID for the same namespace and name, another for another of either', () => {
    const ns = '9f1c2a4e-3b7d-4c58-8e21-0a6b5d9c7f13';
    const uid = nameBasedUid(ns, 'result-uid-1');
    expect(isValidUid(uid)).toBe(true);
    expect(uid).toBe('2.25.140616761470436123683587951638573643388');
    expect(nameBasedUid(ns, 'result-uid-2')).not.toBe(uid);
    expect(nameBasedUid('9f1c2a4e-3b7d-4c58-8e21-0a6b5d9c7f14', 'result-uid-1')).not.toBe(uid);
  });

  test('refuses a namespace that is not a UUID', () => {
    expect(() => nameBasedUid('job-123', 'x')).toThrow('not a UUID');
  });
});

describe('seededUidSource', () => {
  test('two sources of one seed give the same sequence of distinct UIDs', () => {
    const seed = '0d7f1f4c-5a5e-4f43-9d0b-2f6f8d1b7a10';
    const a = seededUidSource(seed);
    const b = seededUidSource(seed);
    const first = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(first);
    expect(new Set(first).size).toBe(3);
    expect(seededUidSource('0d7f1f4c-5a5e-4f43-9d0b-2f6f8d1b7a11')()).not.toBe(first[0]);
  });
});
